// The failure path: a request whose job keeps failing is retried, then marked failed with a
// reason that quotes no content, and the DPO sees it. The failure is real: the user's public key
// expires between the request (accepted, the key was valid) and the job.
import { expect } from 'chai';
import * as openpgp from 'openpgp';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser } from '../support/accounts.js';
import { MAX_ATTEMPTS } from '../../src/modules/privacy/privacy-service.js';

describe('privacy: a request that keeps failing', function () {
  this.timeout(60_000);

  it('is marked failed with a content-free reason after the last attempt, and shows in the DPO view', async () => {
    const user = await createUser('failing');
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ name: 'Expiring Key', email: user.email }], keyExpirationTime: 3, format: 'armored' });
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ publicKey, password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    const id = created.body.id as string;
    await new Promise((resolve) => setTimeout(resolve, 3_500)); // the key is now expired

    // Each call is one attempt, exactly as the BullMQ processor runs it (the test does not wait
    // out the exponential backoff between attempts). Every attempt but the last throws, so
    // BullMQ retries it; the last one gives up and records why.
    const { privacy, platform } = testContainer();
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
      let thrown: unknown;
      await privacy.runExport(id).catch((error) => { thrown = error; });
      expect(thrown, `attempt ${attempt} must fail for BullMQ to retry it`).to.be.instanceOf(Error);
      const mine = await api().get(`/api/v1/me/exports/${id}`).set(user.auth);
      expect(mine.body).to.include({ status: 'processing', attempts: attempt });
    }
    await privacy.runExport(id); // the last attempt does not throw: nothing is left to retry

    const mine = await api().get(`/api/v1/me/exports/${id}`).set(user.auth);
    expect(mine.status).to.equal(200);
    expect(mine.body).to.include({ status: 'failed', attempts: MAX_ATTEMPTS, downloadUrl: null });
    expect((await api().get(`/api/v1/me/exports/${id}/download`).set(user.auth)).status).to.equal(409);

    const dpo = await createStaff('dpo');
    const view = await api().get('/api/v1/privacy/requests?type=export&state=failed').set(dpo.auth);
    expect(view.status, JSON.stringify(view.body)).to.equal(200);
    const item = view.body.items.find((i: { id: string }) => i.id === id);
    expect(item, 'the failed request is listed').to.not.equal(undefined);
    expect(item).to.include({ userId: user.id, type: 'export', state: 'failed', attempts: MAX_ATTEMPTS });
    // The reason names the cause by a fixed code; no key material, user id or email from the error.
    expect(item.lastError).to.equal('ExportBuildError (recipient-key-unusable)');
    const row = await platform.db('privacy_requests').where({ id }).first();
    expect(row.last_error).to.equal(item.lastError);
    expect(row.last_error).to.not.contain(user.email);
    expect(row.state).to.equal('failed');

    // A job that runs again anyway (a stale BullMQ retry, the reconciler) leaves a failed request alone.
    await privacy.runExport(id);
    expect((await platform.db('privacy_requests').where({ id }).first()).attempts).to.equal(MAX_ATTEMPTS);
    // Nor does the reconciler bring a failed request back once its job is gone.
    const queue = platform.queues.queue('privacy-export');
    await (await queue.getJob(id))?.remove();
    await privacy.reconcile();
    expect(await queue.getJob(id)).to.equal(undefined);
    expect((await platform.db('privacy_requests').where({ id }).first()).state).to.equal('failed');
    // The failed export no longer blocks the user from asking again.
    const again = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'a fresh passphrase 1', password: user.password });
    expect(again.status, JSON.stringify(again.body)).to.equal(202);
  });
});

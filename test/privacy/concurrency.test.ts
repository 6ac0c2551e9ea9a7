// Two jobs on the same account at once: an erasure while the user's export is mid-build leaves no
// archive behind (not even a temporary file), and a request is never run by two workers at once
// (a live lease refuses the second claim; an expired one lets it in and stops the first holder).
// A probe module, added to the container's module list for these tests only, holds a job at a
// chosen point until the test lets it go.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModuleRegistration } from '../../src/platform/platform.js';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { waitFor } from './support.js';

/** A promise the test resolves: where a probe holds a job. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  return { open, opened };
}

/** Every file under the user's export folder, temporary (*.partial) ones included, read from disk. */
function exportFilesOf(userId: string): string[] {
  const dir = resolve(testContainer().platform.config.artifactDir, 'exports', userId);
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

const requestRow = (id: string) => testContainer().platform.db('privacy_requests').where({ id }).first();

describe('privacy: concurrent jobs on one account', function () {
  this.timeout(120_000);
  const config = () => testContainer().platform.config.privacy;
  let grace: number;
  let probe: ModuleRegistration | undefined;
  const gates: Array<ReturnType<typeof gate>> = [];
  before(() => { grace = config().deletionGraceDays; config().deletionGraceDays = 0; });
  afterEach(() => {
    for (const g of gates.splice(0)) g.open();
    const modules = testContainer().modules;
    if (probe && modules.includes(probe)) modules.splice(modules.indexOf(probe), 1);
    probe = undefined;
  });
  after(() => { config().deletionGraceDays = grace; });

  function addProbe(p: ModuleRegistration) {
    probe = p;
    testContainer().modules.push(p);
  }

  async function requestExport(user: TestUser): Promise<string> {
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'concurrency passphrase', password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    return created.body.id;
  }

  async function requestDeletion(user: TestUser): Promise<string> {
    const requested = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
    expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
    return requested.body.id;
  }

  it('a deletion that runs while the export is mid-build leaves no archive of the user, .partial included', async () => {
    const user = await createUser('export-vs-deletion');
    const held = gate();
    gates.push(held);
    const entered = gate();
    addProbe({
      name: 'probe',
      personalData: {
        collections: [{
          name: 'slow', description: 'holds the export mid-build',
          async *rows(userId) {
            if (userId !== user.id) return;
            entered.open();
            await held.opened;
            yield { late: true };
          },
        }],
      },
    });
    const { privacy } = testContainer();
    const exportId = await requestExport(user);
    const exporting = privacy.runExport(exportId);
    await entered.opened;
    // The archive is being written: its temporary file exists, nothing is published yet.
    const during = exportFilesOf(user.id);
    expect(during, 'the build writes a temporary file').to.have.length(1);
    expect(during[0]).to.match(/\.partial$/);

    const deletionId = await requestDeletion(user);
    await privacy.runDeletion(deletionId);
    const deletion = await requestRow(deletionId);
    expect(deletion.state, deletion.last_error).to.equal('completed');
    expect(exportFilesOf(user.id), 'nothing of the export is left once the deletion completed').to.deep.equal([]);
    expect(await requestRow(exportId), 'the export request went with the account').to.equal(undefined);

    // The export's data source now answers; whatever the build does next, it publishes nothing.
    held.open();
    await exporting;
    await new Promise((r) => setTimeout(r, 500));
    expect(exportFilesOf(user.id), 'the export never publishes after the erasure').to.deep.equal([]);
    const receipt = JSON.parse(deletion.receipt);
    expect(receipt.verification.passed).to.equal(true);
  });

  it('a request is claimed once: a second worker is refused while the lease lives, takes over after it expires, and the first cannot complete', async () => {
    const user = await createUser('claimed-twice');
    const first = gate();
    const second = gate();
    gates.push(first, second);
    const calls: Array<ReturnType<typeof gate>> = [];
    // Holds each erasure at its artifacts phase: the first call on `first`, the next on `second`.
    addProbe({
      name: 'probe',
      personalData: {
        collections: [],
        async eraseArtifacts(userId) {
          if (userId !== user.id) return 0;
          const entered = gate();
          calls.push(entered);
          entered.open();
          await (calls.length === 1 ? first.opened : second.opened);
          return 0;
        },
      },
    });
    const { privacy, platform } = testContainer();
    const deletionId = await requestDeletion(user);
    const workerA = privacy.runDeletion(deletionId);
    await waitFor(async () => calls.length === 1);
    const heldByA = await requestRow(deletionId);
    expect(heldByA).to.include({ state: 'processing', attempts: 1 });
    expect(heldByA.lease_owner, 'the holder is recorded for operators').to.match(/^[^/]+\/\d+\/[0-9a-f]{8}$/);
    expect(heldByA.lease_expires_at.getTime()).to.be.greaterThan(Date.now());

    // Worker B while A's lease is live: refused at once, nothing changes.
    const refused = await Promise.race([privacy.runDeletion(deletionId).then(() => 'returned'), new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    expect(refused, 'the second worker returns at once without running the erasure').to.equal('returned');
    const stillA = await requestRow(deletionId);
    expect(stillA).to.include({ attempts: 1, lease_owner: heldByA.lease_owner });
    expect(calls, 'the second worker did not run the erasure').to.have.length(1);

    // A stalls past its lease (simulated: the expiry moves into the past); B may now take over.
    await platform.db('privacy_requests').where({ id: deletionId }).update({ lease_expires_at: platform.db.raw(`now() - interval '1 second'`) });
    const workerB = privacy.runDeletion(deletionId);
    await waitFor(async () => calls.length === 2);
    const heldByB = await requestRow(deletionId);
    expect(heldByB.attempts).to.equal(2);
    expect(heldByB.lease_owner).to.not.equal(heldByA.lease_owner);

    // A wakes up: it must not complete (nor record an error over B's work).
    first.open();
    await workerA;
    const afterA = await requestRow(deletionId);
    expect(afterA).to.include({ state: 'processing', lease_owner: heldByB.lease_owner, last_error: null, receipt: null });
    expect((await platform.db('users').where({ id: user.id }).first()), 'A did not finish the erasure').to.not.equal(undefined);

    second.open();
    await workerB;
    const done = await requestRow(deletionId);
    expect(done).to.include({ state: 'completed', lease_owner: heldByB.lease_owner, last_error: null });
    expect(JSON.parse(done.receipt).verification.passed).to.equal(true);
    expect(await platform.db('users').where({ id: user.id }).first()).to.equal(undefined);
  });
});

// A nightly backup job delivered twice while the first attempt is still dumping (BullMQ's lock
// expired under a long pg_dump) must not mark the live run failed and start a second pg_dump
// beside it: the run's lease refuses the second attempt. pg_dump is held by a wrapper on PATH
// that waits for a flag file, so the first run is mid-dump exactly as long as the test wants.
import { expect } from 'chai';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testContainer } from '../support/app.js';
import { tempDir } from '../support/temp.js';
import { db } from './support.js';
import { requireTool, toolPath } from '../support/tools.js';
import { waitFor } from '../privacy/support.js';

describe('backups: one live run per night', function () {
  this.timeout(180_000);

  it('a second attempt of the same night is refused while the first holds its lease, and the first still succeeds', async function () {
    requireTool(this, 'pg_dump');
    const real = toolPath('pg_dump');
    const dir = tempDir('held-pg-dump');
    writeFileSync(join(dir, 'pg_dump'), `#!/bin/sh\nwhile [ ! -e "${dir}/go" ]; do sleep 0.2; done\nexec "${real}" "$@"\n`);
    chmodSync(join(dir, 'pg_dump'), 0o755);
    const { backups } = testContainer();
    const date = '2031-01-01';
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      const first = backups.runScheduled(date);
      first.catch(() => {});
      const live = await waitFor(async () => db()('backup_runs').where({ kind: 'data', scheduled_for: date, status: 'running' }).first());
      expect(live.lease_owner).to.be.a('string');

      const second = await Promise.race([
        backups.runScheduled(date).then(() => null, (e: Error) => e),
        new Promise<string>((r) => setTimeout(() => r('started a second run'), 15_000)),
      ]);
      expect(second).to.be.an('error');
      expect((second as Error).message).to.match(/still running/);
      const rows = await db()('backup_runs').where({ kind: 'data', scheduled_for: date });
      expect(rows, 'no second run, the live one not marked failed').to.have.length(1);
      expect(rows[0].status).to.equal('running');

      writeFileSync(join(dir, 'go'), '');
      const runs = await first;
      expect(runs.map((r) => r.status)).to.deep.equal(['succeeded', 'succeeded']);
      expect(runs[0].id).to.equal(live.id);
    } finally {
      writeFileSync(join(dir, 'go'), '');
      process.env.PATH = path;
    }
  });
});

// Redis high availability: a primary, a replica and three sentinels from the installed
// redis-server. Exports are queued, the primary is SIGKILLed, the sentinels promote the replica,
// and every request completes (PostgreSQL is the truth; the reconciler re-enqueues anything the
// failover lost), each published exactly once.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startWorkers, type RunningRole } from '../../src/roles.js';
import { isolatedApp } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../privacy/support.js';
import { requireTool } from '../support/tools.js';


describe('Redis Sentinel: queued work survives a failover of the primary', function () {
  this.timeout(180_000);
  const processes: ChildProcess[] = [];
  let app: ReturnType<typeof isolatedApp> | undefined;
  let workers: RunningRole | undefined;
  let primaryPort = 0;
  let replicaPort = 0;
  const sentinelPorts: number[] = [];

  const redisServer = (args: string[]) => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    processes.push(child);
    return child;
  };
  const ping = (port: number) => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {}); // not up yet, or killed: the probe just answers false
    return client;
  };

  before(async function () {
    requireTool(this, 'redis-server');
    const dir = mkdtempSync(join(tmpdir(), 'custos-sentinel-'));
    primaryPort = await freePort();
    replicaPort = await freePort();
    const primary = redisServer(['--port', String(primaryPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    void primary;
    redisServer(['--port', String(replicaPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--replicaof', '127.0.0.1', String(primaryPort)]);
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      sentinelPorts.push(port);
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor custos 127.0.0.1 ${primaryPort} 2`,
        'sentinel down-after-milliseconds custos 1000', 'sentinel failover-timeout custos 10000', 'sentinel parallel-syncs custos 1', ''].join('\n'));
      redisServer([conf, '--sentinel']);
    }
    // ready: the replica is in sync and every sentinel knows the replica
    await waitFor(async () => {
      const c = ping(replicaPort);
      try {
        await c.connect();
        return /master_link_status:up/.test(await c.info('replication'));
      } catch { return false; } finally { c.disconnect(); }
    }, 30_000, 200);
    for (const port of sentinelPorts) {
      await waitFor(async () => {
        const c = ping(port);
        try {
          await c.connect();
          const replicas = await c.call('SENTINEL', 'REPLICAS', 'custos') as unknown[];
          return replicas.length === 1;
        } catch { return false; } finally { c.disconnect(); }
      }, 30_000, 200);
    }
    app = isolatedApp({
      REDIS_URL: 'redis://127.0.0.1:1', // ignored for the address: the sentinels name the primary
      CUSTOS_REDIS_SENTINELS: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      CUSTOS_REDIS_SENTINEL_NAME: 'custos',
      CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_sentinel`,
    });
    workers = startWorkers(app.container);
  });

  after(async () => {
    await workers?.close().catch(() => {});
    await app?.close().catch(() => {});
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });

  it('completes every export requested before and after the primary is killed, each once', async () => {
    const a = app!;
    const requests: Array<{ user: Awaited<ReturnType<typeof createUser>>; id: string }> = [];
    const ask = async () => {
      const user = await createUser('sentinel');
      const res = await a.api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'sentinel passphrase', password: user.password });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      requests.push({ user, id: res.body.id });
    };
    for (let i = 0; i < 4; i += 1) await ask();
    processes[0].kill('SIGKILL'); // the primary
    // the sentinels promote the replica
    await waitFor(async () => {
      const c = ping(sentinelPorts[0]);
      try {
        await c.connect();
        const [, port] = await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'custos') as [string, string];
        return Number(port) === replicaPort;
      } catch { return false; } finally { c.disconnect(); }
    }, 60_000, 250);
    await waitFor(async () => (await a.api().get('/readyz')).status === 200, 30_000, 250);
    for (let i = 0; i < 4; i += 1) await ask();
    // Anything the failover lost from Redis is re-enqueued from PostgreSQL (the scheduler does this every minute).
    await a.container.privacy.reconcile();

    const { db, artifacts } = a.container.platform;
    for (const r of requests) {
      const row = await waitFor(async () => {
        const found = await db('privacy_requests').where({ id: r.id }).first();
        expect(found.state).to.not.equal('failed');
        return found.state === 'completed' ? found : undefined;
      }, 90_000, 250);
      expect(row.state).to.equal('completed');
      expect((await artifacts.list(`exports/${r.user.id}/`)).length, 'one archive per request').to.equal(1);
    }
    const replica = ping(replicaPort);
    await replica.connect();
    expect(await replica.info('replication')).to.match(/role:master/);
    replica.disconnect();
  });
});

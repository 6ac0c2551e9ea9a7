// Retention with synthetic timestamps: exactly the expected files go, the rows say "deleted".
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { selectRetained } from '../../src/modules/backups/retention.js';
import { testContainer } from '../support/app.js';
import { backupFile, db } from './support.js';

const NOW = new Date('2026-11-23T12:00:00Z'); // a Monday
const daysBefore = (n: number) => new Date(Date.UTC(2026, 10, 23 - n, 2, 30));
const day = (d: Date) => d.toISOString().slice(0, 10);

async function synthetic(kind: 'data' | 'keystore', startedAt: Date) {
  const key = `${kind}-synthetic-${day(startedAt)}.dump.enc`;
  const [row] = await db()('backup_runs')
    .insert({ kind, status: 'succeeded', storage_key: key, started_at: startedAt, finished_at: startedAt, size_bytes: 4 })
    .returning('id');
  for (const file of [key, key.replace('.dump.enc', '.manifest.json')]) {
    mkdirSync(dirname(backupFile(kind, file)), { recursive: true });
    writeFileSync(backupFile(kind, file), 'x');
  }
  return { id: row.id as string, key, date: day(startedAt) };
}

describe('backups: retention', () => {
  it('keeps the newest backup of each of N days, M ISO weeks and K months', () => {
    const backups = Array.from({ length: 90 }, (_, i) => ({ id: day(daysBefore(i)), startedAt: daysBefore(i) }));
    const kept = [...selectRetained(backups, { daily: 7, weekly: 4, monthly: 6 })].sort();
    expect(kept).to.deep.equal([
      '2026-08-31', '2026-09-30', '2026-10-31', // months (only four exist; November's is today)
      '2026-11-08', '2026-11-15', // weeks 45 and 46 (Sunday is a week's newest day; 47 and 48 fall in the daily set)
      '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23',
    ]);
  });

  it('`prune` deletes exactly the files outside the policy and marks their rows deleted', async function () {
    this.timeout(60_000);
    // Only synthetic runs in the table, so the expectation is exact.
    await db()('backup_runs').del();
    const data = [];
    for (let i = 0; i < 90; i += 1) data.push(await synthetic('data', daysBefore(i)));
    const keystore = [];
    for (let i = 0; i <= 10; i += 1) keystore.push(await synthetic('keystore', daysBefore(i)));
    const beforeFiles = readdirSync(dirname(backupFile('data', data[0].key)));

    const { deleted, kept } = await testContainer().backups.prune({ now: NOW });

    const expectedData = new Set(['2026-08-31', '2026-09-30', '2026-10-31', '2026-11-08', '2026-11-15', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23']);
    // Key store: 7 days back from noon on the 23rd is noon on the 16th; the 02:30 backup of the 16th is past it.
    const expectedKeystore = new Set(['2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23']);
    for (const b of data) {
      expect(existsSync(backupFile('data', b.key)), `data ${b.date}`).to.equal(expectedData.has(b.date));
      expect(existsSync(backupFile('data', b.key.replace('.dump.enc', '.manifest.json')))).to.equal(expectedData.has(b.date));
    }
    for (const b of keystore) expect(existsSync(backupFile('keystore', b.key)), `keystore ${b.date}`).to.equal(expectedKeystore.has(b.date));
    expect(deleted).to.have.length(90 - 12 + 11 - 7);
    expect(kept).to.have.length(12 + 7);
    // Nothing else in the directory was touched.
    const afterFiles = readdirSync(dirname(backupFile('data', data[0].key)));
    expect(beforeFiles.filter((f) => !afterFiles.includes(f)).every((f) => f.includes('-synthetic-'))).to.equal(true);
    const rows = await db()('backup_runs').where({ status: 'deleted' }).whereNotNull('deleted_at').count<{ n: number }[]>('* as n');
    expect(Number(rows[0].n)).to.equal(deleted.length);
    // A second prune finds nothing more to do.
    expect((await testContainer().backups.prune({ now: NOW })).deleted).to.have.length(0);
  });
});

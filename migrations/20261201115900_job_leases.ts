import type { Knex } from 'knex';

// Leases on the durable jobs: who runs a privacy request or a backup run now, and until when.
// A worker takes a request only while nobody holds a live lease, renews it while it works, and
// finishes only while it still holds it, so a job whose BullMQ lock expired (long deletion,
// stalled worker) never runs twice at once. Kept in PostgreSQL, next to the state it guards, so
// an operator sees the holder: SELECT id, state, lease_owner, lease_expires_at FROM privacy_requests.
// lease_owner stays after the lease ends (its expiry set to the end time): the last holder.
export async function up(knex: Knex): Promise<void> {
  for (const table of ['privacy_requests', 'backup_runs']) {
    if (await knex.schema.hasColumn(table, 'lease_owner')) continue;
    await knex.schema.alterTable(table, (t) => {
      t.text('lease_owner');
      t.timestamp('lease_expires_at', { useTz: true });
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['privacy_requests', 'backup_runs']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('lease_owner');
      t.dropColumn('lease_expires_at');
    });
  }
}

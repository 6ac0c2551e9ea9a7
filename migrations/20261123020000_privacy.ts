import type { Knex } from 'knex';

// Data-subject requests (GDPR Art. 12(3): answer within one month, hence due_at) and the
// tombstones of deleted accounts. Neither table has a foreign key to users on purpose: the
// deletion walk removes every table that references users, and a deletion request, its signed
// receipt and the tombstone must outlive the account they prove was erased.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('privacy_requests'))) {
    await knex.schema.createTable('privacy_requests', (t) => {
      t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
      t.uuid('user_id').notNullable();
      t.text('type').notNullable();
      t.text('state').notNullable().defaultTo('received');
      t.integer('attempts').notNullable().defaultTo(0);
      // error class and code only, never message text that could quote user data
      t.text('last_error');
      // export: passphrase AES-256-GCM under the user's data key, wiped once the archive is built
      t.binary('passphrase_enc');
      t.text('public_key');
      // deletion: when the grace period ends and the job may run
      t.timestamp('scheduled_for', { useTz: true });
      t.timestamp('due_at', { useTz: true }).notNullable();
      t.jsonb('progress').notNullable().defaultTo('{}');
      t.text('artifact_key');
      t.bigInteger('artifact_bytes');
      t.bigInteger('plaintext_bytes');
      t.timestamp('expires_at', { useTz: true });
      t.binary('receipt_token_hash').unique();
      t.text('receipt');
      t.text('receipt_signature');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('started_at', { useTz: true });
      t.timestamp('completed_at', { useTz: true });
      t.timestamp('cancelled_at', { useTz: true });
      t.index(['user_id', 'type']);
      t.index(['state', 'due_at']);
    });
    await knex.raw(`ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_type_check CHECK (type IN ('export', 'deletion'))`);
    await knex.raw(`ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_state_check
      CHECK (state IN ('received', 'scheduled', 'processing', 'completed', 'failed', 'cancelled', 'expired'))`);
    await knex.raw(`ALTER TABLE privacy_requests ADD CONSTRAINT privacy_requests_export_target
      CHECK (type <> 'export' OR state NOT IN ('received', 'processing') OR passphrase_enc IS NOT NULL OR public_key IS NOT NULL)`);
    // At most one running request of each type per user, enforced where races cannot slip past.
    await knex.raw(`CREATE UNIQUE INDEX privacy_requests_one_running ON privacy_requests (user_id, type)
      WHERE state IN ('received', 'scheduled', 'processing')`);
  }
  if (!(await knex.schema.hasTable('deleted_accounts'))) {
    await knex.schema.createTable('deleted_accounts', (t) => {
      t.uuid('user_id').primary();
      t.uuid('request_id').notNullable();
      // HMAC-SHA256 of the normalised email under the server pepper: lets support answer "was this
      // address deleted?" without keeping the address (a bare SHA-256 of an email is guessable).
      t.binary('email_hash').notNullable();
      t.timestamp('requested_at', { useTz: true }).notNullable();
      t.timestamp('deleted_at', { useTz: true }).notNullable();
      t.jsonb('row_counts').notNullable();
      t.index(['email_hash']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('deleted_accounts');
  await knex.schema.dropTableIfExists('privacy_requests');
}

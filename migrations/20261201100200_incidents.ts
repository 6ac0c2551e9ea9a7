import type { Knex } from 'knex';

// Security incidents and their clocks. Only facts are stored (aware_at, when each notification
// was made); the deadlines (GDPR Art. 33: authority within 72 h of awareness; the product's
// promise: affected users within 24 h) are derived from them. Affected users are listed by id
// with a user_id FK, so an account's erasure removes its rows like any other personal data.
// Notices go through trust_outbox: a BullMQ job carries only the notification's id, and the
// outgoing message is recorded in PostgreSQL with its state (there is no mailer here).
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('incidents'))) {
    await knex.schema.createTable('incidents', (t) => {
      t.uuid('id').primary();
      t.text('title').notNullable();
      t.text('severity').notNullable();
      t.timestamp('aware_at', { useTz: true }).notNullable();
      t.boolean('personal_data_involved').notNullable();
      t.uuid('created_by').notNullable();
      t.timestamp('authority_notified_at', { useTz: true });
      t.timestamp('users_notified_at', { useTz: true });
      t.timestamp('closed_at', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['closed_at', 'aware_at']);
    });
    await knex.raw(`ALTER TABLE incidents ADD CONSTRAINT incidents_severity_check CHECK (severity IN ('low', 'medium', 'high', 'critical'))`);
  }
  if (!(await knex.schema.hasTable('incident_updates'))) {
    await knex.schema.createTable('incident_updates', (t) => {
      t.bigIncrements('id');
      t.uuid('incident_id').notNullable().references('id').inTable('incidents').onDelete('CASCADE');
      t.uuid('author_staff_id');
      t.text('kind').notNullable();
      t.text('body').notNullable();
      t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['incident_id', 'at']);
    });
  }
  if (!(await knex.schema.hasTable('incident_affected_users'))) {
    await knex.schema.createTable('incident_affected_users', (t) => {
      t.uuid('incident_id').notNullable().references('id').inTable('incidents').onDelete('CASCADE');
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.primary(['incident_id', 'user_id']);
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('incident_notifications'))) {
    await knex.schema.createTable('incident_notifications', (t) => {
      t.uuid('id').primary();
      t.uuid('incident_id').notNullable().references('id').inTable('incidents').onDelete('CASCADE');
      t.text('message').notNullable();
      t.text('state').notNullable().defaultTo('pending');
      t.integer('recipients');
      t.uuid('created_by').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('completed_at', { useTz: true });
      t.index(['incident_id']);
      t.index(['state']);
    });
    await knex.raw(`ALTER TABLE incident_notifications ADD CONSTRAINT incident_notifications_state_check CHECK (state IN ('pending', 'completed'))`);
  }
  if (!(await knex.schema.hasTable('trust_outbox'))) {
    await knex.schema.createTable('trust_outbox', (t) => {
      t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
      t.text('kind').notNullable();
      // One message per (cause, recipient): a retried job inserts nothing twice.
      t.text('dedupe_key').notNullable().unique();
      t.uuid('user_id').references('id').inTable('users');
      t.uuid('subscription_id');
      t.text('subject').notNullable();
      t.text('body').notNullable();
      t.text('state').notNullable().defaultTo('queued');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('sent_at', { useTz: true });
      t.index(['user_id']);
      t.index(['subscription_id']);
      t.index(['state', 'created_at']);
    });
    await knex.raw(`ALTER TABLE trust_outbox ADD CONSTRAINT trust_outbox_state_check CHECK (state IN ('queued', 'sent', 'failed'))`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['trust_outbox', 'incident_notifications', 'incident_affected_users', 'incident_updates', 'incidents']) {
    await knex.schema.dropTableIfExists(table);
  }
}

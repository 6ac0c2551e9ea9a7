import type { Knex } from 'knex';

// Trust-centre documents (policies, reports), NDA-gated access to the restricted ones, and the
// record of every download. The requester's email is encrypted under the request's own data key
// (with its domain in clear, for auto-approval rules); tokens are stored only as SHA-256. The
// NDA acceptance keeps the exact text's SHA-256, the time, the IP and the user agent.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('trust_documents'))) {
    await knex.schema.createTable('trust_documents', (t) => {
      t.uuid('id').primary();
      t.text('title').notNullable();
      t.text('description').notNullable().defaultTo('');
      t.text('visibility').notNullable();
      t.text('file_name').notNullable();
      t.text('media_type').notNullable();
      t.bigInteger('size_bytes').notNullable();
      t.text('sha256').notNullable();
      t.text('storage_key').notNullable();
      t.uuid('created_by').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('withdrawn_at', { useTz: true });
    });
    await knex.raw(`ALTER TABLE trust_documents ADD CONSTRAINT trust_documents_visibility_check CHECK (visibility IN ('public', 'restricted'))`);
  }
  if (!(await knex.schema.hasTable('document_access_requests'))) {
    await knex.schema.createTable('document_access_requests', (t) => {
      t.uuid('id').primary();
      t.uuid('document_id').notNullable().references('id').inTable('trust_documents').onDelete('CASCADE');
      t.text('name').notNullable();
      t.text('company').notNullable();
      t.binary('email_enc').notNullable();
      t.text('email_domain').notNullable();
      t.text('purpose').notNullable();
      t.binary('token_hash').notNullable().unique();
      t.text('state').notNullable().defaultTo('pending');
      t.text('decided_by');
      t.timestamp('decided_at', { useTz: true });
      t.text('nda_sha256');
      t.timestamp('nda_accepted_at', { useTz: true });
      t.text('nda_ip');
      t.text('nda_user_agent');
      t.timestamp('grant_expires_at', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['document_id']);
      t.index(['state', 'created_at']);
    });
    await knex.raw(`ALTER TABLE document_access_requests ADD CONSTRAINT document_access_requests_state_check CHECK (state IN ('pending', 'approved', 'rejected'))`);
  }
  if (!(await knex.schema.hasTable('document_downloads'))) {
    await knex.schema.createTable('document_downloads', (t) => {
      t.bigIncrements('id');
      t.uuid('document_id').notNullable().references('id').inTable('trust_documents').onDelete('CASCADE');
      t.uuid('access_request_id').references('id').inTable('document_access_requests').onDelete('SET NULL');
      t.text('ip');
      t.text('user_agent');
      t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['document_id', 'at']);
      t.index(['access_request_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['document_downloads', 'document_access_requests', 'trust_documents']) await knex.schema.dropTableIfExists(table);
}

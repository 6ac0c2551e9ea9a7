// A privileged connection to the test database (the superuser URL test/setup.ts migrated with),
// for tests that tamper with the audit trail on purpose or inspect roles. The application itself
// never gets one: testContainer() connects as the runtime role.
import { createDb, type Knex } from '../../src/platform/db.js';

let privileged: Knex | undefined;

export function privilegedDb(): Knex {
  privileged ??= createDb(process.env.DATABASE_URL!, 2);
  return privileged;
}

export async function closePrivilegedDb(): Promise<void> {
  await privileged?.destroy();
  privileged = undefined;
}

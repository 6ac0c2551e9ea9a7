// Demo data for a laptop or a demo: a user with data in every module and a DPO staff member
// with TOTP. Idempotent: running it twice changes nothing.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import type { Container } from './container.js';

export const DEMO_USER = { email: 'demo@custos.test', password: 'Purple-Otter-Lantern-42' };
export const DEMO_DPO = { email: 'dpo@custos.test', password: 'Amber-Falcon-Ledger-42' };
const DEMO_TOTP_FILE = '.custos/demo-dpo-totp.txt';

export interface SeedResult {
  user: typeof DEMO_USER & { id: string };
  dpo: typeof DEMO_DPO & { id: string; totpSecret?: string };
}

export async function seedDemo(container: Container): Promise<SeedResult> {
  // Demo accounts have published passwords (one of them a DPO): never in production, whoever calls.
  if (container.platform.config.env === 'production') throw new Error('refusing to create demo accounts in production');
  const { accounts } = container;
  const user = (await accounts.findAccountByEmail('user', DEMO_USER.email)) ?? (await accounts.register(DEMO_USER.email, DEMO_USER.password));
  let dpo = (await accounts.findAccountByEmail('staff', DEMO_DPO.email)) ?? (await accounts.createStaff(DEMO_DPO.email, 'dpo', DEMO_DPO.password));

  let totpSecret = existsSync(DEMO_TOTP_FILE) ? readFileSync(DEMO_TOTP_FILE, 'utf8').trim() : undefined;
  if (!dpo.totpConfirmedAt) {
    const { secret } = await accounts.twoFactor.enrol(dpo);
    // Confirm with the previous time step, so a login with the current code still works.
    const code = new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() - 30_000 });
    await accounts.twoFactor.confirm(await accounts.getAccount('staff', dpo.id), code);
    mkdirSync(dirname(DEMO_TOTP_FILE), { recursive: true, mode: 0o700 });
    writeFileSync(DEMO_TOTP_FILE, `${secret}\n`, { mode: 0o600 });
    chmodSync(DEMO_TOTP_FILE, 0o600);
    totpSecret = secret;
    dpo = await accounts.getAccount('staff', dpo.id);
  }

  for (const module of container.modules) {
    await module.seed?.({ userId: user.id, userEmail: user.email });
  }
  return { user: { ...DEMO_USER, id: user.id }, dpo: { ...DEMO_DPO, id: dpo.id, totpSecret } };
}

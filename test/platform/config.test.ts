// Configuration is validated at start and an error names the variable to fix.
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runCli } from '../support/cli.js';

const configError = (env: Record<string, string | undefined>): ConfigError => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted a bad configuration');
};

describe('platform: configuration', () => {
  const good = () => ({ ...process.env });

  it('accepts the test environment', () => {
    expect(loadConfig(good()).port).to.be.a('number');
  });

  it('names the bad variable', () => {
    expect(configError({ ...good(), PORT: 'eighty' }).variable).to.equal('PORT');
    expect(configError({ ...good(), PORT: '70000' }).message).to.match(/^PORT: must be an integer between 0 and 65535/);
    expect(configError({ ...good(), DATABASE_URL: 'mysql://x' }).variable).to.equal('DATABASE_URL');
    expect(configError({ ...good(), CUSTOS_MASTER_KEYS: '1:tooshort' }).variable).to.equal('CUSTOS_MASTER_KEYS');
    expect(configError({ ...good(), CUSTOS_MASTER_KEYS: 'not a key' }).variable).to.equal('CUSTOS_MASTER_KEYS');
    expect(configError({ ...good(), CUSTOS_BCRYPT_COST: '10' }).variable).to.equal('CUSTOS_BCRYPT_COST');
    expect(configError({ ...good(), CUSTOS_TLS_CERT_FILE: '/etc/hostname', CUSTOS_TLS_KEY_FILE: '/etc/hostname', CUSTOS_TLS_MIN_VERSION: 'TLSv1.1' }).variable).to.equal('CUSTOS_TLS_MIN_VERSION');
    expect(configError({ ...good(), CUSTOS_TLS_CERT_FILE: '/etc/hostname' }).variable).to.equal('CUSTOS_TLS_KEY_FILE');
    expect(configError({ ...good(), CUSTOS_TLS_CERT_FILE: '/nonexistent.pem', CUSTOS_TLS_KEY_FILE: '/nonexistent.key' }).variable).to.equal('CUSTOS_TLS_CERT_FILE');
  });

  it('S3 storage needs a bucket, and backups never share a bucket with artifacts or each other', () => {
    expect(configError({ ...good(), CUSTOS_STORAGE_DRIVER: 's3' }).variable).to.equal('CUSTOS_S3_BUCKET');
    expect(configError({ ...good(), CUSTOS_STORAGE_DRIVER: 'S3' }).variable).to.equal('CUSTOS_STORAGE_DRIVER');
    expect(configError({ ...good(), CUSTOS_STORAGE_DRIVER: 's3', CUSTOS_S3_BUCKET: 'a', CUSTOS_BACKUP_S3_BUCKET: 'a' }).message).to.match(/different bucket than CUSTOS_S3_BUCKET/);
    expect(configError({ ...good(), CUSTOS_BACKUP_S3_BUCKET: 'b', CUSTOS_KEYSTORE_BACKUP_S3_BUCKET: 'b' }).variable).to.equal('CUSTOS_KEYSTORE_BACKUP_S3_BUCKET');
    const s3 = loadConfig({ ...good(), CUSTOS_STORAGE_DRIVER: 's3', CUSTOS_S3_BUCKET: 'a', CUSTOS_BACKUP_S3_BUCKET: 'b', CUSTOS_KEYSTORE_BACKUP_S3_BUCKET: 'k', CUSTOS_S3_FORCE_PATH_STYLE: 'true' });
    expect(s3.storage).to.deep.include({ driver: 's3' });
    expect(s3.storage.s3).to.include({ bucket: 'a', backupBucket: 'b', keystoreBackupBucket: 'k', forcePathStyle: true, region: 'us-east-1' });
  });

  it('Redis Sentinel addresses must be host:port entries', () => {
    expect(configError({ ...good(), CUSTOS_REDIS_SENTINELS: '10.0.0.1:26379,nope' }).variable).to.equal('CUSTOS_REDIS_SENTINELS');
    expect(loadConfig({ ...good(), CUSTOS_REDIS_SENTINELS: 'a:26379, b:26380', CUSTOS_REDIS_SENTINEL_NAME: 'custos' }).redisSentinel)
      .to.deep.equal({ sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26380 }], name: 'custos' });
  });

  it('never echoes a secret in the error', () => {
    const leaked = 'AAAAsecretAAAA';
    expect(configError({ ...good(), CUSTOS_MASTER_KEYS: `1:${leaked}` }).message).not.to.include(leaked);
  });

  it('production refuses to start without explicit master keys and pepper, even with development secrets at hand', () => {
    const prod = { ...good(), NODE_ENV: 'production', CUSTOS_MASTER_KEYS: undefined, CUSTOS_API_KEY_PEPPER: undefined };
    let error: unknown;
    try { loadConfig(prod, { CUSTOS_MASTER_KEYS: process.env.CUSTOS_MASTER_KEYS, CUSTOS_API_KEY_PEPPER: process.env.CUSTOS_API_KEY_PEPPER }); } catch (e) { error = e; }
    expect((error as ConfigError).variable).to.equal('CUSTOS_MASTER_KEYS');
    expect((error as ConfigError).message).to.match(/required in production/);
    expect(configError({ ...good(), NODE_ENV: 'production', CUSTOS_API_KEY_PEPPER: undefined }).variable).to.equal('CUSTOS_API_KEY_PEPPER');
  });

  it('the CLI reports a configuration error with the variable and exit code 1', async function () {
    this.timeout(60_000);
    const result = await runCli(['migrate'], { env: { PORT: 'eighty' } });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/configuration error: PORT: must be an integer/);
  });
});

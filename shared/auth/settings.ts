/**
 * Authentication settings from the environment the API function, the relay and the local stack
 * share, and the access key store they describe. Only entry points call `authSettingsFromEnv`
 * (with `process.env`); nothing in shared/ reads the environment itself.
 *
 *   MESHLINE_AUTH             `on` (default) or `off`
 *   MESHLINE_KEYS_TABLE       the keys table
 *   MESHLINE_KMS_KEY_ID       KMS key id, ARN or alias that seals secrets (AWS), or
 *   MESHLINE_KEY_FILE         a local key file that seals them (the local stack); exactly one
 *   MESHLINE_AUTH_RATE_LIMIT  requests per second per key unless the key says otherwise (default 50)
 *
 * An empty value counts as unset: serverless.yml passes `''` for what a stage does not use.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { createDocumentClient, type AwsSettings } from '../store/clients.js';
import { AccessKeyStore } from './keys.js';
import { RateLimiter } from './rate-limit.js';
import { FileSecretSealer, KmsSecretSealer, type SecretSealer } from './sealer.js';

/** How secrets are sealed: KMS in AWS, a key file locally. */
export type SealerSettings = { kind: 'kms'; keyId: string } | { kind: 'file'; path: string };

export type AuthSettings =
  | { enabled: false }
  | {
      enabled: true;
      keysTable: string;
      sealer: SealerSettings;
      /** Requests per second per key, for keys without their own `rateLimit`. */
      rateLimit: number;
    };

export const DEFAULT_RATE_LIMIT = 50;

/** Reads AuthSettings; throws naming the variable that is missing or wrong. */
export function authSettingsFromEnv(env: NodeJS.ProcessEnv): AuthSettings {
  const auth = env.MESHLINE_AUTH || 'on';
  if (auth !== 'on' && auth !== 'off') throw new Error(`MESHLINE_AUTH must be on or off, got: ${auth}`);
  if (auth === 'off') return { enabled: false };
  const keysTable = env.MESHLINE_KEYS_TABLE || undefined;
  const kmsKeyId = env.MESHLINE_KMS_KEY_ID || undefined;
  const keyFile = env.MESHLINE_KEY_FILE || undefined;
  const missing = [
    ...(keysTable ? [] : ['MESHLINE_KEYS_TABLE']),
    ...(kmsKeyId || keyFile ? [] : ['MESHLINE_KMS_KEY_ID or MESHLINE_KEY_FILE']),
  ];
  if (missing.length) throw new Error(`MESHLINE_AUTH is on, but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
  if (kmsKeyId && keyFile) {
    throw new Error('set one of MESHLINE_KMS_KEY_ID (KMS, in AWS) and MESHLINE_KEY_FILE (a local key file), not both');
  }
  return {
    enabled: true,
    keysTable: keysTable as string,
    sealer: kmsKeyId ? { kind: 'kms', keyId: kmsKeyId } : { kind: 'file', path: keyFile as string },
    rateLimit: rateLimitFromEnv(env.MESHLINE_AUTH_RATE_LIMIT),
  };
}

function rateLimitFromEnv(value: string | undefined): number {
  if (!value) return DEFAULT_RATE_LIMIT;
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(limit) || limit < 1) {
    throw new Error(`MESHLINE_AUTH_RATE_LIMIT must be a positive integer (requests per second per key), got: ${value}`);
  }
  return limit;
}

/** The sealer the settings name. KMS goes to the region of `aws` (no endpoint: there is no KMS emulator here). */
export function createSecretSealer(sealer: SealerSettings, aws: Pick<AwsSettings, 'region'>): SecretSealer {
  return sealer.kind === 'kms'
    ? new KmsSecretSealer({ client: new KMSClient({ region: aws.region }), keyId: sealer.keyId })
    : new FileSecretSealer(sealer.path);
}

/** The access key store of enabled settings, on the DynamoDB that `aws` points at. */
export function createAccessKeyStore(settings: Extract<AuthSettings, { enabled: true }>, aws: AwsSettings): AccessKeyStore {
  return new AccessKeyStore({ client: createDocumentClient(aws), tableName: settings.keysTable, sealer: createSecretSealer(settings.sealer, aws) });
}

/** The rate limiter of enabled settings (it shares the keys table). */
export function createRateLimiter(settings: Extract<AuthSettings, { enabled: true }>, aws: AwsSettings): RateLimiter {
  return new RateLimiter({ client: createDocumentClient(aws), tableName: settings.keysTable });
}

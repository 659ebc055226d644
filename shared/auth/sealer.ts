/**
 * Sealing of access key secrets at rest. A secret is stored only sealed, bound to its access
 * key id (KMS encryption context, AES-GCM additional data), so a sealed secret copied onto
 * another key's item does not open. In AWS the sealer is KMS; the local stack seals with a
 * key file, since there is no KMS there.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';

/** What a secret is bound to. */
export interface SealContext {
  accessKeyId: string;
}

/** Seals and opens secret access keys. */
export interface SecretSealer {
  /** What sealed a secret, stored next to it as `sealedWith`: `kms:<key id>` or `file`. */
  readonly name: string;
  seal(secret: string, context: SealContext): Promise<string>;
  /** The plaintext, or an error: a tampered, foreign or mis-bound sealed value never opens. */
  open(sealed: string, context: SealContext): Promise<string>;
}

/** A sealed secret that does not open: tampered, sealed by another key, or bound to another access key. */
export class SealedSecretError extends Error {
  override name = 'SealedSecretError';
}

/** The encryption context key: KMS key policies and IAM conditions test for it. */
export const KMS_CONTEXT_KEY = 'meshline:accessKeyId';

/**
 * Seals with KMS Encrypt/Decrypt under one key, with the access key id as encryption context
 * (`meshline:accessKeyId`): CloudTrail names the access key of every Decrypt, and the key
 * policy refuses a Decrypt without it. Decrypt names the key too, so a ciphertext of another
 * KMS key is refused rather than opened with whatever key it names.
 */
export class KmsSecretSealer implements SecretSealer {
  readonly name: string;

  constructor(private readonly options: { client: KMSClient; keyId: string }) {
    this.name = `kms:${options.keyId}`;
  }

  async seal(secret: string, context: SealContext): Promise<string> {
    const { CiphertextBlob } = await this.options.client.send(
      new EncryptCommand({ KeyId: this.options.keyId, Plaintext: Buffer.from(secret, 'utf8'), EncryptionContext: encryptionContext(context) }),
    );
    if (!CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
    return Buffer.from(CiphertextBlob).toString('base64');
  }

  async open(sealed: string, context: SealContext): Promise<string> {
    try {
      const { Plaintext } = await this.options.client.send(
        new DecryptCommand({
          KeyId: this.options.keyId,
          CiphertextBlob: Buffer.from(sealed, 'base64'),
          EncryptionContext: encryptionContext(context),
        }),
      );
      if (!Plaintext) throw new Error('KMS Decrypt returned no plaintext');
      return Buffer.from(Plaintext).toString('utf8');
    } catch (error) {
      // InvalidCiphertextException: tampered, or another encryption context; IncorrectKeyException: another key.
      const name = (error as { name?: string }).name;
      if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') {
        throw new SealedSecretError(`the sealed secret of ${context.accessKeyId} does not open with ${this.options.keyId} (${name})`);
      }
      throw error;
    }
  }
}

function encryptionContext(context: SealContext): Record<string, string> {
  return { [KMS_CONTEXT_KEY]: context.accessKeyId };
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/**
 * Seals with AES-256-GCM under a 32-byte key kept in a file (the local stack). The file is
 * created with mode 0600 on first use; an existing file of another length, or readable by group
 * or others, is refused. Output: `v1.<base64url iv>.<base64url ciphertext+tag>`, with the
 * access key id as additional authenticated data.
 */
export class FileSecretSealer implements SecretSealer {
  readonly name = 'file';
  private key: Promise<Buffer> | undefined;

  constructor(private readonly path: string) {}

  async seal(secret: string, context: SealContext): Promise<string> {
    const key = await this.loadKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context.accessKeyId, 'utf8'));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  async open(sealed: string, context: SealContext): Promise<string> {
    const key = await this.loadKey();
    const [format, ivText, bodyText, ...rest] = sealed.split('.');
    const iv = Buffer.from(ivText ?? '', 'base64url');
    const body = Buffer.from(bodyText ?? '', 'base64url');
    if (format !== FORMAT || rest.length > 0 || iv.length !== IV_BYTES || body.length < TAG_BYTES) {
      throw new SealedSecretError(`the sealed secret of ${context.accessKeyId} is not a ${FORMAT} file-sealed value`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(context.accessKeyId, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      return plain.toString('utf8');
    } catch {
      // GCM authentication failed: nothing of the would-be plaintext is returned.
      throw new SealedSecretError(
        `the sealed secret of ${context.accessKeyId} does not open with the key in ${this.path} (tampered, sealed with another key file, or bound to another access key)`,
      );
    }
  }

  private loadKey(): Promise<Buffer> {
    this.key ??= readOrCreateKeyFile(this.path);
    // A failed load is not cached: the operator may fix the file and retry.
    this.key.catch(() => (this.key = undefined));
    return this.key;
  }
}

/**
 * Reads the key file, or creates it with 32 random bytes, mode 0600. It is written in full
 * under a temporary name and then linked into place, which fails if the file exists: two
 * processes starting at once never see a half-written key, and never overwrite each other's.
 */
async function readOrCreateKeyFile(path: string): Promise<Buffer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  const created = randomBytes(KEY_BYTES);
  try {
    await handle.writeFile(created);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return created;
  } catch (error) {
    // It was there already (or another process linked its key first): read and check that one.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temporary, { force: true });
  }
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(
      `key file ${path} is readable or writable by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `it must be 0600: chmod 600 ${path}`,
    );
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) {
    throw new Error(`key file ${path} holds ${key.length} bytes, but a key file holds exactly ${KEY_BYTES}; it is not a Meshline key file`);
  }
  return key;
}

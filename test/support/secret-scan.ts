import { readFileSync } from 'node:fs';
import { GetObjectCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import type { AccessKeyStore } from '../../shared/auth/keys.js';

/** Key material that must never be written to a log line or a snapshot. */
const MATERIAL: [string, RegExp][] = [
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a SigV4 signature (an Authorization header)', /Signature=[0-9a-f]{64}/],
  ['a bearer token of an access key', /Bearer\s+MLAK[A-Z2-7]{16}\.[A-Za-z0-9]+/],
];

/** One place key material was found: where, and what (never the secret itself). */
export interface Finding {
  where: string;
  what: string;
}

/** Every issued key's secret, opened from the store: what the scan looks for verbatim. */
export async function issuedSecrets(keys: AccessKeyStore): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (const key of await keys.list()) secrets.set(await keys.secretOf(key), key.accessKeyId);
  return secrets;
}

/** Scans a text (a log, a snapshot read as latin1, so binary parts cannot hide ASCII) for key material. */
export function scanText(where: string, text: string, secrets: Map<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const [secret, accessKeyId] of secrets) {
    if (text.includes(secret)) findings.push({ where, what: `the secret of access key ${accessKeyId}` });
  }
  for (const [what, pattern] of MATERIAL) if (pattern.test(text)) findings.push({ where, what });
  return findings;
}

/** Scans a log file line by line, so a finding names its line. */
export function scanLogFile(file: string, secrets: Map<string, string>): Finding[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, index) => scanText(`${file}:${index + 1}`, line, secrets));
}

/** Scans every object of a bucket: snapshots (binary and JSON twins) and manifests. */
export async function scanBucket(s3: S3Client, bucket: string, secrets: Map<string, string>): Promise<{ objects: number; findings: Finding[] }> {
  const findings: Finding[] = [];
  let objects = 0;
  // ListObjects (v1) paged by Marker: s3rver makes ListObjectsV2's continuation tokens with
  // DES, which OpenSSL 3 no longer has, so a second V2 page fails with InternalError.
  let Marker: string | undefined;
  let truncated: boolean | undefined;
  do {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, ...(Marker ? { Marker } : {}) }));
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      let body: Uint8Array | undefined;
      try {
        body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }))).Body?.transformToByteArray();
      } catch (error) {
        throw new Error(`reading s3://${bucket}/${object.Key} to scan it: ${(error as Error).message}`, { cause: error });
      }
      objects += 1;
      findings.push(...scanText(`s3://${bucket}/${object.Key}`, Buffer.from(body ?? []).toString('latin1'), secrets));
    }
    Marker = page.Contents?.at(-1)?.Key;
    truncated = page.IsTruncated === true && Marker !== undefined;
  } while (truncated);
  return { objects, findings };
}

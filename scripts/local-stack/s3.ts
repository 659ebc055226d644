import { CreateBucketCommand, ListBucketsCommand, type S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { StackLog } from './log.js';
import { makeObjectWritesAtomic } from './s3rver-consistency.js';
import { awaitReady, pollUntil } from './processes.js';

/** s3rver accepts only this key pair; LocalStack accepts any, so clients can always use it. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The embedded S3 emulator, running inside this process. */
export interface EmbeddedS3 {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 with its objects under `directory`. It runs in this process (no
 * child to signal), so its request log stays off; failures it cannot answer cleanly are logged.
 */
export async function startS3rver(log: StackLog, options: { directory: string; port: number }): Promise<EmbeddedS3> {
  const server = new S3rver({ address: '127.0.0.1', port: options.port, directory: options.directory, silent: true });
  makeObjectWritesAtomic((server as unknown as { store: Parameters<typeof makeObjectWritesAtomic>[0] }).store);
  server.on('error', (error) => {
    // Koa reports every failed request here, including NoSuchKey and 304s, which are answers.
    if (!(typeof error.status === 'number' && error.status < 500)) log.line('s3', `error: ${error.stack ?? error.message}`);
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async close() {
      const closed = server.close();
      // close() waits for open connections; a client's keep-alive socket must not hold it up.
      server.httpServer?.closeAllConnections();
      await closed;
    },
  };
}

/** Waits until an S3 endpoint we did not start (LocalStack) answers. */
export async function awaitS3(client: S3Client, endpoint: string): Promise<void> {
  await awaitReady(`S3 at ${endpoint}`, 30_000, undefined, (signal) =>
    pollUntil(async () => {
      await client.send(new ListBucketsCommand({}), { abortSignal: signal });
      return true;
    }, signal),
  );
}

/** Creates the bucket unless it exists. */
export async function ensureBucket(client: S3Client, bucket: string, log: StackLog): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    log.line('s3', `created bucket ${bucket}`);
  } catch (error) {
    const name = (error as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}

import { Readable } from 'node:stream';

/** The part of s3rver's filesystem store that this patch wraps. */
interface ObjectStore {
  getObject(bucket: string, key: string, options?: unknown): Promise<{ content?: Readable | null; size?: number } | null>;
  putObject(object: { bucket: string; key: string }): Promise<unknown>;
  deleteObject?(bucket: string, key: string): Promise<unknown>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * s3rver writes an object in place (truncate, then write, then its metadata), and a GET reads
 * the length from the metadata and then streams the file. A GET that overlaps a PUT of the
 * same key therefore answers with a Content-Length its body never reaches, and the client
 * waits forever. That happens here all the time: the compiler rewrites a mesh's manifest while
 * relays poll it. Real S3 replaces objects atomically, so this patch gives the emulator the
 * same behaviour: operations on one key run one at a time, and a GET reads the whole object
 * before it answers (Meshline's objects are small).
 */
export function makeObjectWritesAtomic(store: ObjectStore): void {
  const tails = new Map<string, Promise<unknown>>();
  const exclusive = <T>(bucket: string, key: string, run: () => Promise<T>): Promise<T> => {
    const id = `${bucket}/${key}`;
    const previous = tails.get(id) ?? Promise.resolve();
    const next = previous.then(run, run);
    const settled = next.catch(() => undefined);
    tails.set(id, settled);
    void settled.then(() => {
      if (tails.get(id) === settled) tails.delete(id);
    });
    return next;
  };
  const getObject = store.getObject.bind(store);
  const putObject = store.putObject.bind(store);
  store.getObject = (bucket, key, options) =>
    exclusive(bucket, key, async () => {
      const object = await getObject(bucket, key, options);
      if (object?.content) object.content = Readable.from([await readAll(object.content)]);
      return object;
    });
  store.putObject = (object) => exclusive(object.bucket, object.key, () => putObject(object));
  if (store.deleteObject) {
    const deleteObject = store.deleteObject.bind(store);
    store.deleteObject = (bucket, key) => exclusive(bucket, key, () => deleteObject(bucket, key));
  }
}

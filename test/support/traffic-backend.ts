import * as grpc from '@grpc/grpc-js';
import { WHOAMI_PATH } from './xds-backend.js';

/** Raw-bytes codecs, as in xds-backend.ts: the payload is the server's name in UTF-8. */
const bytes = (value: Buffer) => value;

const service: grpc.ServiceDefinition = {
  Whoami: {
    path: WHOAMI_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  },
};

/**
 * A test backend (same Whoami service as xds-backend.ts) that can be told to fail: with
 * `failEvery` = n, every n-th call it receives is answered UNAVAILABLE (deterministic, so a
 * retried call lands on a call that succeeds when calls are made one at a time).
 */
export interface TrafficBackend {
  name: string;
  host: string;
  port: number;
  /** Calls received, failed ones included. */
  calls: number;
  /** Calls answered UNAVAILABLE. */
  failures: number;
  /** 0: never fail; n: fail every n-th call received. Can be changed at any time. */
  failEvery: number;
  close(): Promise<void>;
}

export async function startTrafficBackend(name: string, failEvery = 0): Promise<TrafficBackend> {
  const server = new grpc.Server();
  const backend: TrafficBackend = {
    name,
    host: '127.0.0.1',
    port: 0,
    calls: 0,
    failures: 0,
    failEvery,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(service, {
    Whoami(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      backend.calls += 1;
      if (backend.failEvery > 0 && backend.calls % backend.failEvery === 0) {
        backend.failures += 1;
        callback({ code: grpc.status.UNAVAILABLE, details: `${name} fails call ${backend.calls} on purpose` });
        return;
      }
      callback(null, Buffer.from(name, 'utf8'));
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  return backend;
}

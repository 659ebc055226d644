import * as grpc from '@grpc/grpc-js';

/** The one method of the test backend: answers with the name of the server that took the call. */
export const WHOAMI_PATH = '/meshline.test.Backend/Whoami';

/** Raw-bytes codecs: the backend needs no protos, the payload is the server's name in UTF-8. */
const bytes = {
  serialize: (value: Buffer) => value,
  deserialize: (value: Buffer) => value,
};

const backendService: grpc.ServiceDefinition = {
  Whoami: {
    path: WHOAMI_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  },
};

/** A plain gRPC server on 127.0.0.1 that proxyless clients are routed to. */
export interface TestBackend {
  name: string;
  /** Always 127.0.0.1: grpc-js-xds rejects non-IP socket addresses. */
  host: string;
  port: number;
  /** Calls this backend has answered. */
  calls: number;
  close(): Promise<void>;
}

/** Starts a backend on a free port that answers Whoami with `name`. */
export async function startTestBackend(name: string): Promise<TestBackend> {
  const server = new grpc.Server();
  const backend: TestBackend = {
    name,
    host: '127.0.0.1',
    port: 0,
    calls: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
  server.addService(backendService, {
    Whoami(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      backend.calls += 1;
      callback(null, Buffer.from(name, 'utf8'));
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  return backend;
}

/** One Whoami call on a channel; resolves with the name of the backend that answered. */
export function whoami(client: grpc.Client, deadlineMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      WHOAMI_PATH,
      bytes.serialize,
      bytes.deserialize,
      Buffer.alloc(0),
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error || !response ? reject(error ?? new Error('empty response')) : resolve(response.toString('utf8'))),
    );
  });
}

import * as grpc from '@grpc/grpc-js';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { whoami } from './xds-backend.js';

// Registers the xds: resolver and xDS load balancers with @grpc/grpc-js, once per process.
registerXds();

/**
 * grpc-js-xds 1.14 reads a bootstrap from this channel option before falling back to the
 * process-wide GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG (read once and cached). With the
 * option every channel gets its own xDS client, node id and relay, so tests stay independent.
 */
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

/** Where a proxyless client sits; grpc-js-xds refuses a bootstrap without `node.locality`. */
export interface Locality {
  region?: string;
  zone?: string;
  sub_zone?: string;
}

export interface ProxylessOptions {
  /** The relay's ADS address, `host:port`. */
  relayAddress: string;
  /** The proxy's identity: `mesh/<mesh>/virtualNode/<name>` (or the ARN form). */
  nodeId: string;
  locality?: Locality;
  /**
   * The proxy's token (`<accessKeyId>.<secret>`) for a relay that requires identities: sent in
   * node metadata as `meshline.proxyToken`, since grpc-js-xds adds no call credentials.
   */
  proxyToken?: string;
}

/** A gRPC xDS bootstrap (gRFC A27) pointing at the relay, insecure, for one node. */
export function xdsBootstrap({ relayAddress, nodeId, locality, proxyToken }: ProxylessOptions): object {
  return {
    xds_servers: [{ server_uri: relayAddress, channel_creds: [{ type: 'insecure' }] }],
    node: {
      id: nodeId,
      locality: locality ?? { region: 'local', zone: 'local-a' },
      ...(proxyToken !== undefined ? { metadata: { 'meshline.proxyToken': proxyToken } } : {}),
    },
  };
}

/** Channel options that make a channel resolve `xds:///...` through the relay as `nodeId`. */
export function xdsChannelOptions(options: ProxylessOptions): grpc.ChannelOptions {
  return { [BOOTSTRAP_OPTION]: JSON.stringify(xdsBootstrap(options)) };
}

/** A proxyless gRPC client of one xDS target (the listener name, e.g. `backend.local`). */
export interface ProxylessClient {
  /** The underlying client, for calls of any method (`makeUnaryRequest` etc.). */
  client: grpc.Client;
  /** One call of the test backend's Whoami: the name of the backend that answered. */
  whoami(deadlineMs?: number): Promise<string>;
  close(): void;
}

/**
 * Creates a client of `xds:///<target>` that gets its listeners, routes, clusters and
 * endpoints from the relay as the proxy `nodeId`. Nothing connects until the first call.
 */
export function proxylessClient(target: string, options: ProxylessOptions): ProxylessClient {
  const client = new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure(), xdsChannelOptions(options));
  return {
    client,
    whoami: (deadlineMs) => whoami(client, deadlineMs),
    close: () => client.close(),
  };
}

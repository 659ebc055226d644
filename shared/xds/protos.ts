import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';

/**
 * The Envoy API protos ship inside @grpc/grpc-js-xds (there is no @envoyproxy/protos package).
 * All four folders are include roots; google/protobuf/* is built into protobufjs.
 */
export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(pkg, 'deps', d));
}

/** Every proto file whose messages Meshline builds or serves. */
const PROTO_FILES = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/service/discovery/v3/ads.proto',
  // Tracers a bootstrap may name (meshline bootstrap --tracing).
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/config/trace/v3/xray.proto',
  // The relay's metrics service as a stats sink (meshline bootstrap --metrics).
  'envoy/config/metrics/v3/metrics_service.proto',
];

let root: protobuf.Root | undefined;

/** google/protobuf/descriptor.proto is not among protobufjs's built-in common files by default. */
function addDescriptorProto(): void {
  const require = createRequire(import.meta.url);
  const descriptor = require('protobufjs/google/protobuf/descriptor.json') as {
    nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } };
  };
  protobuf.common('descriptor', descriptor.nested.google.nested.protobuf.nested as protobuf.INamespace['nested'] & object);
}

/**
 * Loads .proto files into a new root (field names as in the files: snake_case), resolving imports
 * in `includeDirs` (Envoy's by default); `google/protobuf/*` come with protobufjs.
 */
export function loadProtoRoot(files: string[], includeDirs: string[] = envoyProtoIncludeDirs()): protobuf.Root {
  addDescriptorProto();
  const loaded = new protobuf.Root();
  loaded.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  loaded.loadSync(files, { keepCase: true });
  loaded.resolveAll();
  return loaded;
}

/** The loaded Envoy proto root of every message Meshline builds or serves. */
export function envoyRoot(): protobuf.Root {
  root ??= loadProtoRoot(PROTO_FILES);
  return root;
}

/** A message type by its fully qualified name, e.g. `envoy.config.cluster.v3.Cluster`. */
export function messageType(name: string): protobuf.Type {
  return envoyRoot().lookupType(name);
}

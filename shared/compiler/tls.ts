/**
 * TLS: listener TLS (DownstreamTlsContext on the listener's filter chains) and client-policy TLS
 * (UpstreamTlsContext on the clusters of the backends). Certificates and keys are only ever
 * named, by file path or SDS secret name: no key material lands in a snapshot.
 */
import type { ProtoObject } from '../xds/encode.js';
import { DOWNSTREAM_TLS_TYPE, UPSTREAM_TLS_TYPE, type Dialect } from './envoy.js';
import { LOCAL_SDS_CLUSTER } from './names.js';

/** The certificate of a listener (acm, file or sds) or of a client (file or sds). */
interface Certificate {
  acm?: { certificateArn: string } | undefined;
  file?: { certificateChain: string; privateKey: string } | undefined;
  sds?: { secretName: string } | undefined;
}

/** What a listener or a client trusts. */
interface Trust {
  acm?: { certificateAuthorityArns: string[] } | undefined;
  file?: { certificateChain: string } | undefined;
  sds?: { secretName: string } | undefined;
}

interface Validation {
  trust: Trust;
  subjectAlternativeNames?: { match: { exact: string[] } } | undefined;
}

/** Listener TLS of a virtual node or virtual gateway. */
export interface ListenerTls {
  mode: 'STRICT' | 'PERMISSIVE' | 'DISABLED';
  certificate: Certificate;
  validation?: Validation | undefined;
}

/** Client-policy TLS of a virtual node backend (or backend defaults) or a virtual gateway. */
export interface ClientTls {
  enforce?: boolean | undefined;
  ports?: number[] | undefined;
  certificate?: Omit<Certificate, 'acm'> | undefined;
  validation: Validation;
}

/**
 * Secrets come from the local SDS provider App Mesh's Envoy bootstrap defines (a Unix domain
 * socket, `APPMESH_SDS_SOCKET_PATH`), never from the control plane.
 */
const LOCAL_SDS: ProtoObject = {
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: LOCAL_SDS_CLUSTER } }],
  },
  resource_api_version: 'V3',
};

function sdsSecret(name: string): ProtoObject {
  return { name, sds_config: LOCAL_SDS };
}

/**
 * The SDS secret that stands for ACM Private CA roots: App Mesh fetched them from ACM itself;
 * Meshline names them, and a local SDS provider serves the roots under that name (the ARNs,
 * comma-separated, in the order given).
 */
export function acmTrustSecretName(arns: string[]): string {
  return arns.join(',');
}

/** The name a trust is known by outside Envoy: its file, its SDS secret, or its ACM secret name. */
function trustName(trust: Trust): string {
  if (trust.file) return trust.file.certificateChain;
  if (trust.sds) return trust.sds.secretName;
  return acmTrustSecretName(trust.acm?.certificateAuthorityArns ?? []);
}

/** A subject alternative name is a URI (`spiffe://...`) or else a DNS name. */
function sanMatchers(validation: Validation, dialect: Dialect): ProtoObject {
  const sans = validation.subjectAlternativeNames?.match.exact ?? [];
  if (sans.length === 0) return {};
  // gRPC clients read only the older field; Envoy's current one carries the SAN type.
  if (dialect === 'proxyless') return { match_subject_alt_names: sans.map((exact) => ({ exact })) };
  return { match_typed_subject_alt_names: sans.map((exact) => ({ san_type: exact.includes('://') ? 'URI' : 'DNS', matcher: { exact } })) };
}

function validationContext(validation: Validation, dialect: Dialect): ProtoObject {
  const sans = sanMatchers(validation, dialect);
  const { trust } = validation;
  if (dialect === 'proxyless') {
    // gRPC's xDS security (gRFC A29) takes certificates only from the certificate providers of
    // its bootstrap, by instance name: Meshline names them after the App Mesh file or secret.
    return { validation_context: { ca_certificate_provider_instance: { instance_name: trustName(trust) }, ...sans } };
  }
  if (trust.file) return { validation_context: { trusted_ca: { filename: trust.file.certificateChain }, ...sans } };
  return {
    combined_validation_context: {
      default_validation_context: sans,
      validation_context_sds_secret_config: sdsSecret(trustName(trust)),
    },
  };
}

function certificate(cert: Certificate, dialect: Dialect): ProtoObject {
  if (dialect === 'proxyless') {
    const instance = cert.file?.certificateChain ?? cert.sds?.secretName ?? cert.acm?.certificateArn ?? '';
    return { tls_certificate_provider_instance: { instance_name: instance } };
  }
  if (cert.file) {
    return { tls_certificates: [{ certificate_chain: { filename: cert.file.certificateChain }, private_key: { filename: cert.file.privateKey } }] };
  }
  return { tls_certificate_sds_secret_configs: [sdsSecret(cert.sds?.secretName ?? cert.acm?.certificateArn ?? '')] };
}

/** The TLS transport socket of a listener filter chain (mTLS when the listener validates clients). */
export function downstreamTlsSocket(tls: ListenerTls): ProtoObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': DOWNSTREAM_TLS_TYPE,
      common_tls_context: { ...certificate(tls.certificate, 'envoy'), ...(tls.validation ? validationContext(tls.validation, 'envoy') : {}) },
      ...(tls.validation ? { require_client_certificate: { value: true } } : {}),
    },
  };
}

/**
 * The client TLS that applies to a backend on a port: the policy, unless it is not enforced or
 * names other ports.
 */
export function clientTlsFor(policy: ClientTls | undefined, port: number): ClientTls | undefined {
  if (!policy || policy.enforce === false) return undefined;
  if (policy.ports?.length && !policy.ports.includes(port)) return undefined;
  return policy;
}

/** The TLS transport socket of a cluster whose client policy asks for TLS. */
export function upstreamTlsSocket(tls: ClientTls, dialect: Dialect): ProtoObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS_TYPE,
      common_tls_context: { ...(tls.certificate ? certificate(tls.certificate, dialect) : {}), ...validationContext(tls.validation, dialect) },
    },
  };
}

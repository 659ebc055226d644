/**
 * App Mesh (API version 2019-01-25) input shapes as zod schemas, with every constraint of the
 * model: length, range, pattern, enum, required, uniqueItems, union (exactly one member) and
 * strict structures (unknown members are rejected). Each schema is named after its Smithy shape
 * and registered in `modelShapes` with that name, so validation messages can name it.
 *
 * Written from the App Mesh Smithy model (aws/api-models-aws,
 * app-mesh/service/2019-01-25/app-mesh-2019-01-25.json at 56c8953e87ae, the model the AWS SDKs are
 * built from); keep it in step with the model by hand. Constraints App Mesh enforces that the model
 * does not encode are marked "App Mesh rule" where they are applied.
 *
 * Longs are JS numbers (safe integers); string lengths are counted as zod counts them (UTF-16 code
 * units), which differs from Smithy's code points only for characters outside the BMP.
 */
import { z } from 'zod';
import { named, structure, union, uniqueItems } from './smithy.js';

export const ResourceName = named('ResourceName', z.string().min(1).max(255));
export type ResourceName = z.infer<typeof ResourceName>;

export const EgressFilterType = named('EgressFilterType', z.enum(['ALLOW_ALL', 'DROP_ALL']));
export type EgressFilterType = z.infer<typeof EgressFilterType>;

/** An object that represents the egress filter rules for a service mesh. */
export const EgressFilter = structure('EgressFilter', {
  type: EgressFilterType,
});
export type EgressFilter = z.infer<typeof EgressFilter>;

export const IpPreference = named(
  'IpPreference',
  z.enum(['IPv6_PREFERRED', 'IPv4_PREFERRED', 'IPv4_ONLY', 'IPv6_ONLY']),
);
export type IpPreference = z.infer<typeof IpPreference>;

/** An object that represents the service discovery information for a service mesh. */
export const MeshServiceDiscovery = structure('MeshServiceDiscovery', {
  ipPreference: IpPreference.optional(),
});
export type MeshServiceDiscovery = z.infer<typeof MeshServiceDiscovery>;

/** An object that represents the specification of a service mesh. */
export const MeshSpec = structure('MeshSpec', {
  egressFilter: EgressFilter.optional(),
  serviceDiscovery: MeshServiceDiscovery.optional(),
});
export type MeshSpec = z.infer<typeof MeshSpec>;

export const TagKey = named('TagKey', z.string().min(1).max(128));
export type TagKey = z.infer<typeof TagKey>;

export const TagValue = named('TagValue', z.string().max(256));
export type TagValue = z.infer<typeof TagValue>;

/**
 * Optional metadata that you apply to a resource to assist with categorization and organization.
 */
export const TagRef = structure('TagRef', {
  key: TagKey,
  value: TagValue,
});
export type TagRef = z.infer<typeof TagRef>;

export const TagList = named('TagList', z.array(TagRef).max(50));
export type TagList = z.infer<typeof TagList>;

export const Hostname = named('Hostname', z.string());
export type Hostname = z.infer<typeof Hostname>;

export const DnsResponseType = named('DnsResponseType', z.enum(['LOADBALANCER', 'ENDPOINTS']));
export type DnsResponseType = z.infer<typeof DnsResponseType>;

/** An object that represents the DNS service discovery information for your virtual node. */
export const DnsServiceDiscovery = structure('DnsServiceDiscovery', {
  hostname: Hostname,
  responseType: DnsResponseType.optional(),
  ipPreference: IpPreference.optional(),
});
export type DnsServiceDiscovery = z.infer<typeof DnsServiceDiscovery>;

export const AwsCloudMapName = named('AwsCloudMapName', z.string().min(1).max(1024));
export type AwsCloudMapName = z.infer<typeof AwsCloudMapName>;

export const AwsCloudMapInstanceAttributeKey = named(
  'AwsCloudMapInstanceAttributeKey',
  z.string().min(1).max(255).regex(/^[a-zA-Z0-9!-~]+$/),
);
export type AwsCloudMapInstanceAttributeKey = z.infer<typeof AwsCloudMapInstanceAttributeKey>;

export const AwsCloudMapInstanceAttributeValue = named(
  'AwsCloudMapInstanceAttributeValue',
  z.string().min(1).max(1024).regex(/^([a-zA-Z0-9!-~][ \ta-zA-Z0-9!-~]*){0,1}[a-zA-Z0-9!-~]{0,1}$/),
);
export type AwsCloudMapInstanceAttributeValue = z.infer<typeof AwsCloudMapInstanceAttributeValue>;

/** An object that represents the Cloud Map attribute information for your virtual node. */
export const AwsCloudMapInstanceAttribute = structure('AwsCloudMapInstanceAttribute', {
  key: AwsCloudMapInstanceAttributeKey,
  value: AwsCloudMapInstanceAttributeValue,
});
export type AwsCloudMapInstanceAttribute = z.infer<typeof AwsCloudMapInstanceAttribute>;

export const AwsCloudMapInstanceAttributes = named(
  'AwsCloudMapInstanceAttributes',
  z.array(AwsCloudMapInstanceAttribute),
);
export type AwsCloudMapInstanceAttributes = z.infer<typeof AwsCloudMapInstanceAttributes>;

/** An object that represents the Cloud Map service discovery information for your virtual node. */
export const AwsCloudMapServiceDiscovery = structure('AwsCloudMapServiceDiscovery', {
  namespaceName: AwsCloudMapName,
  serviceName: AwsCloudMapName,
  attributes: AwsCloudMapInstanceAttributes.optional(),
  ipPreference: IpPreference.optional(),
});
export type AwsCloudMapServiceDiscovery = z.infer<typeof AwsCloudMapServiceDiscovery>;

/** An object that represents the service discovery information for a virtual node. */
export const ServiceDiscovery = union('ServiceDiscovery', {
  dns: DnsServiceDiscovery,
  awsCloudMap: AwsCloudMapServiceDiscovery,
});
export type ServiceDiscovery = z.infer<typeof ServiceDiscovery>;

export const PortNumber = named('PortNumber', z.int().min(1).max(65535));
export type PortNumber = z.infer<typeof PortNumber>;

export const PortProtocol = named('PortProtocol', z.enum(['http', 'tcp', 'http2', 'grpc']));
export type PortProtocol = z.infer<typeof PortProtocol>;

/** An object that represents a port mapping. */
export const PortMapping = structure('PortMapping', {
  port: PortNumber,
  protocol: PortProtocol,
});
export type PortMapping = z.infer<typeof PortMapping>;

export const ListenerTlsMode = named('ListenerTlsMode', z.enum(['STRICT', 'PERMISSIVE', 'DISABLED']));
export type ListenerTlsMode = z.infer<typeof ListenerTlsMode>;

export const Arn = named('Arn', z.string());
export type Arn = z.infer<typeof Arn>;

/** An object that represents an Certificate Manager certificate. */
export const ListenerTlsAcmCertificate = structure('ListenerTlsAcmCertificate', {
  certificateArn: Arn,
});
export type ListenerTlsAcmCertificate = z.infer<typeof ListenerTlsAcmCertificate>;

export const FilePath = named('FilePath', z.string().min(1).max(255));
export type FilePath = z.infer<typeof FilePath>;

/** An object that represents a local file certificate. */
export const ListenerTlsFileCertificate = structure('ListenerTlsFileCertificate', {
  certificateChain: FilePath,
  privateKey: FilePath,
});
export type ListenerTlsFileCertificate = z.infer<typeof ListenerTlsFileCertificate>;

export const SdsSecretName = named('SdsSecretName', z.string());
export type SdsSecretName = z.infer<typeof SdsSecretName>;

/** An object that represents the listener's Secret Discovery Service certificate. */
export const ListenerTlsSdsCertificate = structure('ListenerTlsSdsCertificate', {
  secretName: SdsSecretName,
});
export type ListenerTlsSdsCertificate = z.infer<typeof ListenerTlsSdsCertificate>;

/** An object that represents a listener's Transport Layer Security (TLS) certificate. */
export const ListenerTlsCertificate = union('ListenerTlsCertificate', {
  acm: ListenerTlsAcmCertificate,
  file: ListenerTlsFileCertificate,
  sds: ListenerTlsSdsCertificate,
});
export type ListenerTlsCertificate = z.infer<typeof ListenerTlsCertificate>;

/**
 * An object that represents a Transport Layer Security (TLS) validation context trust for a local
 * file.
 */
export const TlsValidationContextFileTrust = structure('TlsValidationContextFileTrust', {
  certificateChain: FilePath,
});
export type TlsValidationContextFileTrust = z.infer<typeof TlsValidationContextFileTrust>;

/**
 * An object that represents a Transport Layer Security (TLS) Secret Discovery Service validation
 * context trust.
 */
export const TlsValidationContextSdsTrust = structure('TlsValidationContextSdsTrust', {
  secretName: SdsSecretName,
});
export type TlsValidationContextSdsTrust = z.infer<typeof TlsValidationContextSdsTrust>;

/**
 * An object that represents a listener's Transport Layer Security (TLS) validation context trust.
 */
export const ListenerTlsValidationContextTrust = union('ListenerTlsValidationContextTrust', {
  file: TlsValidationContextFileTrust,
  sds: TlsValidationContextSdsTrust,
});
export type ListenerTlsValidationContextTrust = z.infer<typeof ListenerTlsValidationContextTrust>;

export const SubjectAlternativeName = named('SubjectAlternativeName', z.string().min(1).max(254));
export type SubjectAlternativeName = z.infer<typeof SubjectAlternativeName>;

export const SubjectAlternativeNameList = named(
  'SubjectAlternativeNameList',
  z.array(SubjectAlternativeName),
);
export type SubjectAlternativeNameList = z.infer<typeof SubjectAlternativeNameList>;

/**
 * An object that represents the methods by which a subject alternative name on a peer Transport
 * Layer Security (TLS) certificate can be matched.
 */
export const SubjectAlternativeNameMatchers = structure('SubjectAlternativeNameMatchers', {
  exact: SubjectAlternativeNameList,
});
export type SubjectAlternativeNameMatchers = z.infer<typeof SubjectAlternativeNameMatchers>;

/** An object that represents the subject alternative names secured by the certificate. */
export const SubjectAlternativeNames = structure('SubjectAlternativeNames', {
  match: SubjectAlternativeNameMatchers,
});
export type SubjectAlternativeNames = z.infer<typeof SubjectAlternativeNames>;

/** An object that represents a listener's Transport Layer Security (TLS) validation context. */
export const ListenerTlsValidationContext = structure('ListenerTlsValidationContext', {
  trust: ListenerTlsValidationContextTrust,
  subjectAlternativeNames: SubjectAlternativeNames.optional(),
});
export type ListenerTlsValidationContext = z.infer<typeof ListenerTlsValidationContext>;

/** An object that represents the Transport Layer Security (TLS) properties for a listener. */
export const ListenerTls = structure('ListenerTls', {
  mode: ListenerTlsMode,
  certificate: ListenerTlsCertificate,
  validation: ListenerTlsValidationContext.optional(),
});
export type ListenerTls = z.infer<typeof ListenerTls>;

export const HealthCheckTimeoutMillis = named('HealthCheckTimeoutMillis', z.int().min(2000).max(60000));
export type HealthCheckTimeoutMillis = z.infer<typeof HealthCheckTimeoutMillis>;

export const HealthCheckIntervalMillis = named('HealthCheckIntervalMillis', z.int().min(5000).max(300000));
export type HealthCheckIntervalMillis = z.infer<typeof HealthCheckIntervalMillis>;

export const HealthCheckThreshold = named('HealthCheckThreshold', z.int().min(2).max(10));
export type HealthCheckThreshold = z.infer<typeof HealthCheckThreshold>;

/** An object that represents the health check policy for a virtual node's listener. */
export const HealthCheckPolicy = structure('HealthCheckPolicy', {
  timeoutMillis: HealthCheckTimeoutMillis,
  intervalMillis: HealthCheckIntervalMillis,
  protocol: PortProtocol,
  port: PortNumber.optional(),
  path: z.string().optional(),
  healthyThreshold: HealthCheckThreshold,
  unhealthyThreshold: HealthCheckThreshold,
});
export type HealthCheckPolicy = z.infer<typeof HealthCheckPolicy>;

export const DurationValue = named('DurationValue', z.int().min(0));
export type DurationValue = z.infer<typeof DurationValue>;

export const DurationUnit = named('DurationUnit', z.enum(['s', 'ms']));
export type DurationUnit = z.infer<typeof DurationUnit>;

/** An object that represents a duration of time. */
export const Duration = structure('Duration', {
  value: DurationValue.optional(),
  unit: DurationUnit.optional(),
});
export type Duration = z.infer<typeof Duration>;

/** An object that represents types of timeouts. */
export const TcpTimeout = structure('TcpTimeout', {
  idle: Duration.optional(),
});
export type TcpTimeout = z.infer<typeof TcpTimeout>;

/** An object that represents types of timeouts. */
export const HttpTimeout = structure('HttpTimeout', {
  perRequest: Duration.optional(),
  idle: Duration.optional(),
});
export type HttpTimeout = z.infer<typeof HttpTimeout>;

/** An object that represents types of timeouts. */
export const GrpcTimeout = structure('GrpcTimeout', {
  perRequest: Duration.optional(),
  idle: Duration.optional(),
});
export type GrpcTimeout = z.infer<typeof GrpcTimeout>;

/** An object that represents timeouts for different protocols. */
export const ListenerTimeout = union('ListenerTimeout', {
  tcp: TcpTimeout,
  http: HttpTimeout,
  http2: HttpTimeout,
  grpc: GrpcTimeout,
});
export type ListenerTimeout = z.infer<typeof ListenerTimeout>;

export const OutlierDetectionMaxServerErrors = named('OutlierDetectionMaxServerErrors', z.int().min(1));
export type OutlierDetectionMaxServerErrors = z.infer<typeof OutlierDetectionMaxServerErrors>;

export const OutlierDetectionMaxEjectionPercent = named(
  'OutlierDetectionMaxEjectionPercent',
  z.int().min(0).max(100),
);
export type OutlierDetectionMaxEjectionPercent = z.infer<typeof OutlierDetectionMaxEjectionPercent>;

/** An object that represents the outlier detection for a virtual node's listener. */
export const OutlierDetection = structure('OutlierDetection', {
  maxServerErrors: OutlierDetectionMaxServerErrors,
  interval: Duration,
  baseEjectionDuration: Duration,
  maxEjectionPercent: OutlierDetectionMaxEjectionPercent,
});
export type OutlierDetection = z.infer<typeof OutlierDetection>;

export const MaxConnections = named('MaxConnections', z.int().min(1));
export type MaxConnections = z.infer<typeof MaxConnections>;

/** An object that represents a type of connection pool. */
export const VirtualNodeTcpConnectionPool = structure('VirtualNodeTcpConnectionPool', {
  maxConnections: MaxConnections,
});
export type VirtualNodeTcpConnectionPool = z.infer<typeof VirtualNodeTcpConnectionPool>;

export const MaxPendingRequests = named('MaxPendingRequests', z.int().min(1));
export type MaxPendingRequests = z.infer<typeof MaxPendingRequests>;

/** An object that represents a type of connection pool. */
export const VirtualNodeHttpConnectionPool = structure('VirtualNodeHttpConnectionPool', {
  maxConnections: MaxConnections,
  maxPendingRequests: MaxPendingRequests.optional(),
});
export type VirtualNodeHttpConnectionPool = z.infer<typeof VirtualNodeHttpConnectionPool>;

export const MaxRequests = named('MaxRequests', z.int().min(1));
export type MaxRequests = z.infer<typeof MaxRequests>;

/** An object that represents a type of connection pool. */
export const VirtualNodeHttp2ConnectionPool = structure('VirtualNodeHttp2ConnectionPool', {
  maxRequests: MaxRequests,
});
export type VirtualNodeHttp2ConnectionPool = z.infer<typeof VirtualNodeHttp2ConnectionPool>;

/** An object that represents a type of connection pool. */
export const VirtualNodeGrpcConnectionPool = structure('VirtualNodeGrpcConnectionPool', {
  maxRequests: MaxRequests,
});
export type VirtualNodeGrpcConnectionPool = z.infer<typeof VirtualNodeGrpcConnectionPool>;

/** An object that represents the type of virtual node connection pool. */
export const VirtualNodeConnectionPool = union('VirtualNodeConnectionPool', {
  tcp: VirtualNodeTcpConnectionPool,
  http: VirtualNodeHttpConnectionPool,
  http2: VirtualNodeHttp2ConnectionPool,
  grpc: VirtualNodeGrpcConnectionPool,
});
export type VirtualNodeConnectionPool = z.infer<typeof VirtualNodeConnectionPool>;

/** An object that represents a listener for a virtual node. */
export const Listener = structure('Listener', {
  portMapping: PortMapping,
  tls: ListenerTls.optional(),
  healthCheck: HealthCheckPolicy.optional(),
  timeout: ListenerTimeout.optional(),
  outlierDetection: OutlierDetection.optional(),
  connectionPool: VirtualNodeConnectionPool.optional(),
});
export type Listener = z.infer<typeof Listener>;

// App Mesh rule, not in the model: listener ports are unique.
export const Listeners = named('Listeners', z.array(Listener).check(uniqueItems(['portMapping', 'port'])));
export type Listeners = z.infer<typeof Listeners>;

export const ServiceName = named('ServiceName', z.string());
export type ServiceName = z.infer<typeof ServiceName>;

export const PortSet = named('PortSet', z.array(PortNumber).check(uniqueItems()));
export type PortSet = z.infer<typeof PortSet>;

/** An object that represents the client's certificate. */
export const ClientTlsCertificate = union('ClientTlsCertificate', {
  file: ListenerTlsFileCertificate,
  sds: ListenerTlsSdsCertificate,
});
export type ClientTlsCertificate = z.infer<typeof ClientTlsCertificate>;

export const CertificateAuthorityArns = named('CertificateAuthorityArns', z.array(Arn).min(1).max(3));
export type CertificateAuthorityArns = z.infer<typeof CertificateAuthorityArns>;

/**
 * An object that represents a Transport Layer Security (TLS) validation context trust for an
 * Certificate Manager certificate.
 */
export const TlsValidationContextAcmTrust = structure('TlsValidationContextAcmTrust', {
  certificateAuthorityArns: CertificateAuthorityArns,
});
export type TlsValidationContextAcmTrust = z.infer<typeof TlsValidationContextAcmTrust>;

/** An object that represents a Transport Layer Security (TLS) validation context trust. */
export const TlsValidationContextTrust = union('TlsValidationContextTrust', {
  acm: TlsValidationContextAcmTrust,
  file: TlsValidationContextFileTrust,
  sds: TlsValidationContextSdsTrust,
});
export type TlsValidationContextTrust = z.infer<typeof TlsValidationContextTrust>;

/**
 * An object that represents how the proxy will validate its peer during Transport Layer Security
 * (TLS) negotiation.
 */
export const TlsValidationContext = structure('TlsValidationContext', {
  trust: TlsValidationContextTrust,
  subjectAlternativeNames: SubjectAlternativeNames.optional(),
});
export type TlsValidationContext = z.infer<typeof TlsValidationContext>;

/** A reference to an object that represents a Transport Layer Security (TLS) client policy. */
export const ClientPolicyTls = structure('ClientPolicyTls', {
  enforce: z.boolean().optional(),
  ports: PortSet.optional(),
  certificate: ClientTlsCertificate.optional(),
  validation: TlsValidationContext,
});
export type ClientPolicyTls = z.infer<typeof ClientPolicyTls>;

/** An object that represents a client policy. */
export const ClientPolicy = structure('ClientPolicy', {
  tls: ClientPolicyTls.optional(),
});
export type ClientPolicy = z.infer<typeof ClientPolicy>;

/** An object that represents a virtual service backend for a virtual node. */
export const VirtualServiceBackend = structure('VirtualServiceBackend', {
  virtualServiceName: ServiceName,
  clientPolicy: ClientPolicy.optional(),
});
export type VirtualServiceBackend = z.infer<typeof VirtualServiceBackend>;

/**
 * An object that represents the backends that a virtual node is expected to send outbound traffic
 * to.
 */
export const Backend = union('Backend', {
  virtualService: VirtualServiceBackend,
});
export type Backend = z.infer<typeof Backend>;

export const Backends = named('Backends', z.array(Backend));
export type Backends = z.infer<typeof Backends>;

/** An object that represents the default properties for a backend. */
export const BackendDefaults = structure('BackendDefaults', {
  clientPolicy: ClientPolicy.optional(),
});
export type BackendDefaults = z.infer<typeof BackendDefaults>;

export const TextFormat = named('TextFormat', z.string().min(1).max(1000));
export type TextFormat = z.infer<typeof TextFormat>;

export const JsonKey = named('JsonKey', z.string().min(1).max(100));
export type JsonKey = z.infer<typeof JsonKey>;

export const JsonValue = named('JsonValue', z.string().min(1).max(100));
export type JsonValue = z.infer<typeof JsonValue>;

/** An object that represents the key value pairs for the JSON. */
export const JsonFormatRef = structure('JsonFormatRef', {
  key: JsonKey,
  value: JsonValue,
});
export type JsonFormatRef = z.infer<typeof JsonFormatRef>;

export const JsonFormat = named('JsonFormat', z.array(JsonFormatRef));
export type JsonFormat = z.infer<typeof JsonFormat>;

/** An object that represents the format for the logs. */
export const LoggingFormat = union('LoggingFormat', {
  text: TextFormat,
  json: JsonFormat,
});
export type LoggingFormat = z.infer<typeof LoggingFormat>;

/** An object that represents an access log file. */
export const FileAccessLog = structure('FileAccessLog', {
  path: FilePath,
  format: LoggingFormat.optional(),
});
export type FileAccessLog = z.infer<typeof FileAccessLog>;

/** An object that represents the access logging information for a virtual node. */
export const AccessLog = union('AccessLog', {
  file: FileAccessLog,
});
export type AccessLog = z.infer<typeof AccessLog>;

/** An object that represents the logging information for a virtual node. */
export const Logging = structure('Logging', {
  accessLog: AccessLog.optional(),
});
export type Logging = z.infer<typeof Logging>;

// App Mesh rule, documented on serviceDiscovery: a node with listeners needs service discovery.
/** An object that represents the specification of a virtual node. */
export const VirtualNodeSpec = structure('VirtualNodeSpec', {
  serviceDiscovery: ServiceDiscovery.optional(),
  listeners: Listeners.optional(),
  backends: Backends.optional(),
  backendDefaults: BackendDefaults.optional(),
  logging: Logging.optional(),
}, { dependentRequired: { listeners: ['serviceDiscovery'] } });
export type VirtualNodeSpec = z.infer<typeof VirtualNodeSpec>;

export const AccountId = named('AccountId', z.string().length(12));
export type AccountId = z.infer<typeof AccountId>;

/** An object that represents a virtual router listener. */
export const VirtualRouterListener = structure('VirtualRouterListener', {
  portMapping: PortMapping,
});
export type VirtualRouterListener = z.infer<typeof VirtualRouterListener>;

// App Mesh rule, not in the model: listener ports are unique.
export const VirtualRouterListeners = named(
  'VirtualRouterListeners',
  z.array(VirtualRouterListener).check(uniqueItems(['portMapping', 'port'])),
);
export type VirtualRouterListeners = z.infer<typeof VirtualRouterListeners>;

/** An object that represents the specification of a virtual router. */
export const VirtualRouterSpec = structure('VirtualRouterSpec', {
  listeners: VirtualRouterListeners.optional(),
});
export type VirtualRouterSpec = z.infer<typeof VirtualRouterSpec>;

export const RoutePriority = named('RoutePriority', z.int().min(0).max(1000));
export type RoutePriority = z.infer<typeof RoutePriority>;

export const HttpPathExact = named('HttpPathExact', z.string().min(1).max(255));
export type HttpPathExact = z.infer<typeof HttpPathExact>;

export const HttpPathRegex = named('HttpPathRegex', z.string().min(1).max(255));
export type HttpPathRegex = z.infer<typeof HttpPathRegex>;

/** An object representing the path to match in the request. */
export const HttpPathMatch = structure('HttpPathMatch', {
  exact: HttpPathExact.optional(),
  regex: HttpPathRegex.optional(),
});
export type HttpPathMatch = z.infer<typeof HttpPathMatch>;

export const QueryParameterName = named('QueryParameterName', z.string());
export type QueryParameterName = z.infer<typeof QueryParameterName>;

/** An object representing the query parameter to match. */
export const QueryParameterMatch = structure('QueryParameterMatch', {
  exact: z.string().optional(),
});
export type QueryParameterMatch = z.infer<typeof QueryParameterMatch>;

/** An object that represents the query parameter in the request. */
export const HttpQueryParameter = structure('HttpQueryParameter', {
  name: QueryParameterName,
  match: QueryParameterMatch.optional(),
});
export type HttpQueryParameter = z.infer<typeof HttpQueryParameter>;

export const HttpQueryParameters = named('HttpQueryParameters', z.array(HttpQueryParameter).min(1).max(10));
export type HttpQueryParameters = z.infer<typeof HttpQueryParameters>;

export const HttpMethod = named(
  'HttpMethod',
  z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
);
export type HttpMethod = z.infer<typeof HttpMethod>;

export const HttpScheme = named('HttpScheme', z.enum(['http', 'https']));
export type HttpScheme = z.infer<typeof HttpScheme>;

export const HeaderName = named('HeaderName', z.string().min(1).max(50));
export type HeaderName = z.infer<typeof HeaderName>;

export const HeaderMatch = named('HeaderMatch', z.string().min(1).max(255));
export type HeaderMatch = z.infer<typeof HeaderMatch>;

/** An object that represents the range of values to match on. */
export const MatchRange = structure('MatchRange', {
  start: z.int(),
  end: z.int(),
});
export type MatchRange = z.infer<typeof MatchRange>;

/**
 * An object that represents the method and value to match with the header value sent in a request.
 */
export const HeaderMatchMethod = union('HeaderMatchMethod', {
  exact: HeaderMatch,
  regex: HeaderMatch,
  range: MatchRange,
  prefix: HeaderMatch,
  suffix: HeaderMatch,
});
export type HeaderMatchMethod = z.infer<typeof HeaderMatchMethod>;

/** An object that represents the HTTP header in the request. */
export const HttpRouteHeader = structure('HttpRouteHeader', {
  name: HeaderName,
  invert: z.boolean().optional(),
  match: HeaderMatchMethod.optional(),
});
export type HttpRouteHeader = z.infer<typeof HttpRouteHeader>;

export const HttpRouteHeaders = named('HttpRouteHeaders', z.array(HttpRouteHeader).min(1).max(10));
export type HttpRouteHeaders = z.infer<typeof HttpRouteHeaders>;

export const ListenerPort = named('ListenerPort', z.int().min(1).max(65535));
export type ListenerPort = z.infer<typeof ListenerPort>;

/**
 * An object that represents the requirements for a route to match HTTP requests for a virtual
 * router.
 */
export const HttpRouteMatch = structure('HttpRouteMatch', {
  prefix: z.string().optional(),
  path: HttpPathMatch.optional(),
  queryParameters: HttpQueryParameters.optional(),
  method: HttpMethod.optional(),
  scheme: HttpScheme.optional(),
  headers: HttpRouteHeaders.optional(),
  port: ListenerPort.optional(),
});
export type HttpRouteMatch = z.infer<typeof HttpRouteMatch>;

export const PercentInt = named('PercentInt', z.int().min(0).max(100));
export type PercentInt = z.infer<typeof PercentInt>;

/** An object that represents a target and its relative weight. */
export const WeightedTarget = structure('WeightedTarget', {
  virtualNode: ResourceName,
  weight: PercentInt,
  port: ListenerPort.optional(),
});
export type WeightedTarget = z.infer<typeof WeightedTarget>;

export const WeightedTargets = named('WeightedTargets', z.array(WeightedTarget).min(1).max(10));
export type WeightedTargets = z.infer<typeof WeightedTargets>;

/** An object that represents the action to take if a match is determined. */
export const HttpRouteAction = structure('HttpRouteAction', {
  weightedTargets: WeightedTargets,
});
export type HttpRouteAction = z.infer<typeof HttpRouteAction>;

export const MaxRetries = named('MaxRetries', z.int().min(0));
export type MaxRetries = z.infer<typeof MaxRetries>;

export const HttpRetryPolicyEvent = named('HttpRetryPolicyEvent', z.string().min(1).max(25));
export type HttpRetryPolicyEvent = z.infer<typeof HttpRetryPolicyEvent>;

export const HttpRetryPolicyEvents = named(
  'HttpRetryPolicyEvents',
  z.array(HttpRetryPolicyEvent).min(1).max(25),
);
export type HttpRetryPolicyEvents = z.infer<typeof HttpRetryPolicyEvents>;

export const TcpRetryPolicyEvent = named('TcpRetryPolicyEvent', z.enum(['connection-error']));
export type TcpRetryPolicyEvent = z.infer<typeof TcpRetryPolicyEvent>;

export const TcpRetryPolicyEvents = named('TcpRetryPolicyEvents', z.array(TcpRetryPolicyEvent).length(1));
export type TcpRetryPolicyEvents = z.infer<typeof TcpRetryPolicyEvents>;

// App Mesh rule, documented on the shape: at least one kind of retry event.
/** An object that represents a retry policy. */
export const HttpRetryPolicy = structure('HttpRetryPolicy', {
  perRetryTimeout: Duration,
  maxRetries: MaxRetries,
  httpRetryEvents: HttpRetryPolicyEvents.optional(),
  tcpRetryEvents: TcpRetryPolicyEvents.optional(),
}, { anyOf: ['httpRetryEvents', 'tcpRetryEvents'] });
export type HttpRetryPolicy = z.infer<typeof HttpRetryPolicy>;

/** An object that represents an HTTP or HTTP/2 route type. */
export const HttpRoute = structure('HttpRoute', {
  match: HttpRouteMatch,
  action: HttpRouteAction,
  retryPolicy: HttpRetryPolicy.optional(),
  timeout: HttpTimeout.optional(),
});
export type HttpRoute = z.infer<typeof HttpRoute>;

/** An object that represents the action to take if a match is determined. */
export const TcpRouteAction = structure('TcpRouteAction', {
  weightedTargets: WeightedTargets,
});
export type TcpRouteAction = z.infer<typeof TcpRouteAction>;

/** An object representing the TCP route to match. */
export const TcpRouteMatch = structure('TcpRouteMatch', {
  port: ListenerPort.optional(),
});
export type TcpRouteMatch = z.infer<typeof TcpRouteMatch>;

/** An object that represents a TCP route type. */
export const TcpRoute = structure('TcpRoute', {
  action: TcpRouteAction,
  timeout: TcpTimeout.optional(),
  match: TcpRouteMatch.optional(),
});
export type TcpRoute = z.infer<typeof TcpRoute>;

/** An object that represents the action to take if a match is determined. */
export const GrpcRouteAction = structure('GrpcRouteAction', {
  weightedTargets: WeightedTargets,
});
export type GrpcRouteAction = z.infer<typeof GrpcRouteAction>;

export const MethodName = named('MethodName', z.string().min(1).max(50));
export type MethodName = z.infer<typeof MethodName>;

/** An object that represents the match method. */
export const GrpcRouteMetadataMatchMethod = union('GrpcRouteMetadataMatchMethod', {
  exact: HeaderMatch,
  regex: HeaderMatch,
  range: MatchRange,
  prefix: HeaderMatch,
  suffix: HeaderMatch,
});
export type GrpcRouteMetadataMatchMethod = z.infer<typeof GrpcRouteMetadataMatchMethod>;

/** An object that represents the match metadata for the route. */
export const GrpcRouteMetadata = structure('GrpcRouteMetadata', {
  name: HeaderName,
  invert: z.boolean().optional(),
  match: GrpcRouteMetadataMatchMethod.optional(),
});
export type GrpcRouteMetadata = z.infer<typeof GrpcRouteMetadata>;

export const GrpcRouteMetadataList = named(
  'GrpcRouteMetadataList',
  z.array(GrpcRouteMetadata).min(1).max(10),
);
export type GrpcRouteMetadataList = z.infer<typeof GrpcRouteMetadataList>;

// App Mesh rule, documented on methodName: a method name needs a service name.
/** An object that represents the criteria for determining a request match. */
export const GrpcRouteMatch = structure('GrpcRouteMatch', {
  serviceName: ServiceName.optional(),
  methodName: MethodName.optional(),
  metadata: GrpcRouteMetadataList.optional(),
  port: ListenerPort.optional(),
}, { dependentRequired: { methodName: ['serviceName'] } });
export type GrpcRouteMatch = z.infer<typeof GrpcRouteMatch>;

export const GrpcRetryPolicyEvent = named(
  'GrpcRetryPolicyEvent',
  z.enum(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']),
);
export type GrpcRetryPolicyEvent = z.infer<typeof GrpcRetryPolicyEvent>;

export const GrpcRetryPolicyEvents = named(
  'GrpcRetryPolicyEvents',
  z.array(GrpcRetryPolicyEvent).min(1).max(5),
);
export type GrpcRetryPolicyEvents = z.infer<typeof GrpcRetryPolicyEvents>;

// App Mesh rule, documented on the shape: at least one kind of retry event.
/** An object that represents a retry policy. */
export const GrpcRetryPolicy = structure('GrpcRetryPolicy', {
  perRetryTimeout: Duration,
  maxRetries: MaxRetries,
  httpRetryEvents: HttpRetryPolicyEvents.optional(),
  tcpRetryEvents: TcpRetryPolicyEvents.optional(),
  grpcRetryEvents: GrpcRetryPolicyEvents.optional(),
}, { anyOf: ['grpcRetryEvents', 'httpRetryEvents', 'tcpRetryEvents'] });
export type GrpcRetryPolicy = z.infer<typeof GrpcRetryPolicy>;

/** An object that represents a gRPC route type. */
export const GrpcRoute = structure('GrpcRoute', {
  action: GrpcRouteAction,
  match: GrpcRouteMatch,
  retryPolicy: GrpcRetryPolicy.optional(),
  timeout: GrpcTimeout.optional(),
});
export type GrpcRoute = z.infer<typeof GrpcRoute>;

// App Mesh rule, not in the model: a route has exactly one route type.
/** An object that represents a route specification. */
export const RouteSpec = structure('RouteSpec', {
  priority: RoutePriority.optional(),
  httpRoute: HttpRoute.optional(),
  tcpRoute: TcpRoute.optional(),
  http2Route: HttpRoute.optional(),
  grpcRoute: GrpcRoute.optional(),
}, { oneOf: ['httpRoute', 'tcpRoute', 'http2Route', 'grpcRoute'] });
export type RouteSpec = z.infer<typeof RouteSpec>;

/** An object that represents a virtual node service provider. */
export const VirtualNodeServiceProvider = structure('VirtualNodeServiceProvider', {
  virtualNodeName: ResourceName,
});
export type VirtualNodeServiceProvider = z.infer<typeof VirtualNodeServiceProvider>;

/** An object that represents a virtual node service provider. */
export const VirtualRouterServiceProvider = structure('VirtualRouterServiceProvider', {
  virtualRouterName: ResourceName,
});
export type VirtualRouterServiceProvider = z.infer<typeof VirtualRouterServiceProvider>;

/** An object that represents the provider for a virtual service. */
export const VirtualServiceProvider = union('VirtualServiceProvider', {
  virtualNode: VirtualNodeServiceProvider,
  virtualRouter: VirtualRouterServiceProvider,
});
export type VirtualServiceProvider = z.infer<typeof VirtualServiceProvider>;

/** An object that represents the specification of a virtual service. */
export const VirtualServiceSpec = structure('VirtualServiceSpec', {
  provider: VirtualServiceProvider.optional(),
});
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpec>;

/** An object that represents a local file certificate. */
export const VirtualGatewayListenerTlsFileCertificate = structure('VirtualGatewayListenerTlsFileCertificate', {
  certificateChain: FilePath,
  privateKey: FilePath,
});
export type VirtualGatewayListenerTlsFileCertificate = z.infer<typeof VirtualGatewayListenerTlsFileCertificate>;

export const VirtualGatewaySdsSecretName = named('VirtualGatewaySdsSecretName', z.string());
export type VirtualGatewaySdsSecretName = z.infer<typeof VirtualGatewaySdsSecretName>;

/**
 * An object that represents the virtual gateway's listener's Secret Discovery Service
 * certificate.The proxy must be configured with a local SDS provider via a Unix Domain Socket.
 */
export const VirtualGatewayListenerTlsSdsCertificate = structure('VirtualGatewayListenerTlsSdsCertificate', {
  secretName: VirtualGatewaySdsSecretName,
});
export type VirtualGatewayListenerTlsSdsCertificate = z.infer<typeof VirtualGatewayListenerTlsSdsCertificate>;

/**
 * An object that represents the virtual gateway's client's Transport Layer Security (TLS)
 * certificate.
 */
export const VirtualGatewayClientTlsCertificate = union('VirtualGatewayClientTlsCertificate', {
  file: VirtualGatewayListenerTlsFileCertificate,
  sds: VirtualGatewayListenerTlsSdsCertificate,
});
export type VirtualGatewayClientTlsCertificate = z.infer<typeof VirtualGatewayClientTlsCertificate>;

export const VirtualGatewayCertificateAuthorityArns = named(
  'VirtualGatewayCertificateAuthorityArns',
  z.array(Arn).min(1).max(3),
);
export type VirtualGatewayCertificateAuthorityArns = z.infer<typeof VirtualGatewayCertificateAuthorityArns>;

/**
 * An object that represents a Transport Layer Security (TLS) validation context trust for an
 * Certificate Manager certificate.
 */
export const VirtualGatewayTlsValidationContextAcmTrust = structure('VirtualGatewayTlsValidationContextAcmTrust', {
  certificateAuthorityArns: VirtualGatewayCertificateAuthorityArns,
});
export type VirtualGatewayTlsValidationContextAcmTrust = z.infer<typeof VirtualGatewayTlsValidationContextAcmTrust>;

/**
 * An object that represents a Transport Layer Security (TLS) validation context trust for a local
 * file.
 */
export const VirtualGatewayTlsValidationContextFileTrust = structure('VirtualGatewayTlsValidationContextFileTrust', {
  certificateChain: FilePath,
});
export type VirtualGatewayTlsValidationContextFileTrust = z.infer<typeof VirtualGatewayTlsValidationContextFileTrust>;

/**
 * An object that represents a virtual gateway's listener's Transport Layer Security (TLS) Secret
 * Discovery Service validation context trust.
 */
export const VirtualGatewayTlsValidationContextSdsTrust = structure('VirtualGatewayTlsValidationContextSdsTrust', {
  secretName: VirtualGatewaySdsSecretName,
});
export type VirtualGatewayTlsValidationContextSdsTrust = z.infer<typeof VirtualGatewayTlsValidationContextSdsTrust>;

/** An object that represents a Transport Layer Security (TLS) validation context trust. */
export const VirtualGatewayTlsValidationContextTrust = union('VirtualGatewayTlsValidationContextTrust', {
  acm: VirtualGatewayTlsValidationContextAcmTrust,
  file: VirtualGatewayTlsValidationContextFileTrust,
  sds: VirtualGatewayTlsValidationContextSdsTrust,
});
export type VirtualGatewayTlsValidationContextTrust = z.infer<typeof VirtualGatewayTlsValidationContextTrust>;

/** An object that represents a Transport Layer Security (TLS) validation context. */
export const VirtualGatewayTlsValidationContext = structure('VirtualGatewayTlsValidationContext', {
  trust: VirtualGatewayTlsValidationContextTrust,
  subjectAlternativeNames: SubjectAlternativeNames.optional(),
});
export type VirtualGatewayTlsValidationContext = z.infer<typeof VirtualGatewayTlsValidationContext>;

/** An object that represents a Transport Layer Security (TLS) client policy. */
export const VirtualGatewayClientPolicyTls = structure('VirtualGatewayClientPolicyTls', {
  enforce: z.boolean().optional(),
  ports: PortSet.optional(),
  certificate: VirtualGatewayClientTlsCertificate.optional(),
  validation: VirtualGatewayTlsValidationContext,
});
export type VirtualGatewayClientPolicyTls = z.infer<typeof VirtualGatewayClientPolicyTls>;

/** An object that represents a client policy. */
export const VirtualGatewayClientPolicy = structure('VirtualGatewayClientPolicy', {
  tls: VirtualGatewayClientPolicyTls.optional(),
});
export type VirtualGatewayClientPolicy = z.infer<typeof VirtualGatewayClientPolicy>;

/** An object that represents the default properties for a backend. */
export const VirtualGatewayBackendDefaults = structure('VirtualGatewayBackendDefaults', {
  clientPolicy: VirtualGatewayClientPolicy.optional(),
});
export type VirtualGatewayBackendDefaults = z.infer<typeof VirtualGatewayBackendDefaults>;

export const VirtualGatewayHealthCheckTimeoutMillis = named(
  'VirtualGatewayHealthCheckTimeoutMillis',
  z.int().min(2000).max(60000),
);
export type VirtualGatewayHealthCheckTimeoutMillis = z.infer<typeof VirtualGatewayHealthCheckTimeoutMillis>;

export const VirtualGatewayHealthCheckIntervalMillis = named(
  'VirtualGatewayHealthCheckIntervalMillis',
  z.int().min(5000).max(300000),
);
export type VirtualGatewayHealthCheckIntervalMillis = z.infer<typeof VirtualGatewayHealthCheckIntervalMillis>;

export const VirtualGatewayPortProtocol = named(
  'VirtualGatewayPortProtocol',
  z.enum(['http', 'http2', 'grpc']),
);
export type VirtualGatewayPortProtocol = z.infer<typeof VirtualGatewayPortProtocol>;

export const VirtualGatewayHealthCheckThreshold = named(
  'VirtualGatewayHealthCheckThreshold',
  z.int().min(2).max(10),
);
export type VirtualGatewayHealthCheckThreshold = z.infer<typeof VirtualGatewayHealthCheckThreshold>;

/** An object that represents the health check policy for a virtual gateway's listener. */
export const VirtualGatewayHealthCheckPolicy = structure('VirtualGatewayHealthCheckPolicy', {
  timeoutMillis: VirtualGatewayHealthCheckTimeoutMillis,
  intervalMillis: VirtualGatewayHealthCheckIntervalMillis,
  protocol: VirtualGatewayPortProtocol,
  port: PortNumber.optional(),
  path: z.string().optional(),
  healthyThreshold: VirtualGatewayHealthCheckThreshold,
  unhealthyThreshold: VirtualGatewayHealthCheckThreshold,
});
export type VirtualGatewayHealthCheckPolicy = z.infer<typeof VirtualGatewayHealthCheckPolicy>;

/** An object that represents a port mapping. */
export const VirtualGatewayPortMapping = structure('VirtualGatewayPortMapping', {
  port: PortNumber,
  protocol: VirtualGatewayPortProtocol,
});
export type VirtualGatewayPortMapping = z.infer<typeof VirtualGatewayPortMapping>;

export const VirtualGatewayListenerTlsMode = named(
  'VirtualGatewayListenerTlsMode',
  z.enum(['STRICT', 'PERMISSIVE', 'DISABLED']),
);
export type VirtualGatewayListenerTlsMode = z.infer<typeof VirtualGatewayListenerTlsMode>;

/**
 * An object that represents a virtual gateway's listener's Transport Layer Security (TLS)
 * validation context trust.
 */
export const VirtualGatewayListenerTlsValidationContextTrust = union('VirtualGatewayListenerTlsValidationContextTrust', {
  file: VirtualGatewayTlsValidationContextFileTrust,
  sds: VirtualGatewayTlsValidationContextSdsTrust,
});
export type VirtualGatewayListenerTlsValidationContextTrust = z.infer<typeof VirtualGatewayListenerTlsValidationContextTrust>;

/**
 * An object that represents a virtual gateway's listener's Transport Layer Security (TLS)
 * validation context.
 */
export const VirtualGatewayListenerTlsValidationContext = structure('VirtualGatewayListenerTlsValidationContext', {
  trust: VirtualGatewayListenerTlsValidationContextTrust,
  subjectAlternativeNames: SubjectAlternativeNames.optional(),
});
export type VirtualGatewayListenerTlsValidationContext = z.infer<typeof VirtualGatewayListenerTlsValidationContext>;

/** An object that represents an Certificate Manager certificate. */
export const VirtualGatewayListenerTlsAcmCertificate = structure('VirtualGatewayListenerTlsAcmCertificate', {
  certificateArn: Arn,
});
export type VirtualGatewayListenerTlsAcmCertificate = z.infer<typeof VirtualGatewayListenerTlsAcmCertificate>;

/** An object that represents a listener's Transport Layer Security (TLS) certificate. */
export const VirtualGatewayListenerTlsCertificate = union('VirtualGatewayListenerTlsCertificate', {
  acm: VirtualGatewayListenerTlsAcmCertificate,
  file: VirtualGatewayListenerTlsFileCertificate,
  sds: VirtualGatewayListenerTlsSdsCertificate,
});
export type VirtualGatewayListenerTlsCertificate = z.infer<typeof VirtualGatewayListenerTlsCertificate>;

/** An object that represents the Transport Layer Security (TLS) properties for a listener. */
export const VirtualGatewayListenerTls = structure('VirtualGatewayListenerTls', {
  mode: VirtualGatewayListenerTlsMode,
  validation: VirtualGatewayListenerTlsValidationContext.optional(),
  certificate: VirtualGatewayListenerTlsCertificate,
});
export type VirtualGatewayListenerTls = z.infer<typeof VirtualGatewayListenerTls>;

/** An object that represents a type of connection pool. */
export const VirtualGatewayHttpConnectionPool = structure('VirtualGatewayHttpConnectionPool', {
  maxConnections: MaxConnections,
  maxPendingRequests: MaxPendingRequests.optional(),
});
export type VirtualGatewayHttpConnectionPool = z.infer<typeof VirtualGatewayHttpConnectionPool>;

/** An object that represents a type of connection pool. */
export const VirtualGatewayHttp2ConnectionPool = structure('VirtualGatewayHttp2ConnectionPool', {
  maxRequests: MaxRequests,
});
export type VirtualGatewayHttp2ConnectionPool = z.infer<typeof VirtualGatewayHttp2ConnectionPool>;

/** An object that represents a type of connection pool. */
export const VirtualGatewayGrpcConnectionPool = structure('VirtualGatewayGrpcConnectionPool', {
  maxRequests: MaxRequests,
});
export type VirtualGatewayGrpcConnectionPool = z.infer<typeof VirtualGatewayGrpcConnectionPool>;

/** An object that represents the type of virtual gateway connection pool. */
export const VirtualGatewayConnectionPool = union('VirtualGatewayConnectionPool', {
  http: VirtualGatewayHttpConnectionPool,
  http2: VirtualGatewayHttp2ConnectionPool,
  grpc: VirtualGatewayGrpcConnectionPool,
});
export type VirtualGatewayConnectionPool = z.infer<typeof VirtualGatewayConnectionPool>;

/** An object that represents a listener for a virtual gateway. */
export const VirtualGatewayListener = structure('VirtualGatewayListener', {
  healthCheck: VirtualGatewayHealthCheckPolicy.optional(),
  portMapping: VirtualGatewayPortMapping,
  tls: VirtualGatewayListenerTls.optional(),
  connectionPool: VirtualGatewayConnectionPool.optional(),
});
export type VirtualGatewayListener = z.infer<typeof VirtualGatewayListener>;

// App Mesh rule, not in the model: listener ports are unique.
export const VirtualGatewayListeners = named(
  'VirtualGatewayListeners',
  z.array(VirtualGatewayListener).check(uniqueItems(['portMapping', 'port'])),
);
export type VirtualGatewayListeners = z.infer<typeof VirtualGatewayListeners>;

/** An object that represents an access log file. */
export const VirtualGatewayFileAccessLog = structure('VirtualGatewayFileAccessLog', {
  path: FilePath,
  format: LoggingFormat.optional(),
});
export type VirtualGatewayFileAccessLog = z.infer<typeof VirtualGatewayFileAccessLog>;

/** The access log configuration for a virtual gateway. */
export const VirtualGatewayAccessLog = union('VirtualGatewayAccessLog', {
  file: VirtualGatewayFileAccessLog,
});
export type VirtualGatewayAccessLog = z.infer<typeof VirtualGatewayAccessLog>;

/** An object that represents logging information. */
export const VirtualGatewayLogging = structure('VirtualGatewayLogging', {
  accessLog: VirtualGatewayAccessLog.optional(),
});
export type VirtualGatewayLogging = z.infer<typeof VirtualGatewayLogging>;

/** An object that represents the specification of a service mesh resource. */
export const VirtualGatewaySpec = structure('VirtualGatewaySpec', {
  backendDefaults: VirtualGatewayBackendDefaults.optional(),
  listeners: VirtualGatewayListeners,
  logging: VirtualGatewayLogging.optional(),
});
export type VirtualGatewaySpec = z.infer<typeof VirtualGatewaySpec>;

export const GatewayRoutePriority = named('GatewayRoutePriority', z.int().min(0).max(1000));
export type GatewayRoutePriority = z.infer<typeof GatewayRoutePriority>;

export const ExactHostName = named('ExactHostName', z.string().min(1).max(253));
export type ExactHostName = z.infer<typeof ExactHostName>;

export const SuffixHostname = named('SuffixHostname', z.string().min(1).max(253));
export type SuffixHostname = z.infer<typeof SuffixHostname>;

/** An object representing the gateway route host name to match. */
export const GatewayRouteHostnameMatch = structure('GatewayRouteHostnameMatch', {
  exact: ExactHostName.optional(),
  suffix: SuffixHostname.optional(),
});
export type GatewayRouteHostnameMatch = z.infer<typeof GatewayRouteHostnameMatch>;

/** An object that represents the HTTP header in the gateway route. */
export const HttpGatewayRouteHeader = structure('HttpGatewayRouteHeader', {
  name: HeaderName,
  invert: z.boolean().optional(),
  match: HeaderMatchMethod.optional(),
});
export type HttpGatewayRouteHeader = z.infer<typeof HttpGatewayRouteHeader>;

export const HttpGatewayRouteHeaders = named(
  'HttpGatewayRouteHeaders',
  z.array(HttpGatewayRouteHeader).min(1).max(10),
);
export type HttpGatewayRouteHeaders = z.infer<typeof HttpGatewayRouteHeaders>;

/** An object that represents the criteria for determining a request match. */
export const HttpGatewayRouteMatch = structure('HttpGatewayRouteMatch', {
  prefix: z.string().optional(),
  path: HttpPathMatch.optional(),
  queryParameters: HttpQueryParameters.optional(),
  method: HttpMethod.optional(),
  hostname: GatewayRouteHostnameMatch.optional(),
  headers: HttpGatewayRouteHeaders.optional(),
  port: ListenerPort.optional(),
});
export type HttpGatewayRouteMatch = z.infer<typeof HttpGatewayRouteMatch>;

/** An object that represents the virtual service that traffic is routed to. */
export const GatewayRouteVirtualService = structure('GatewayRouteVirtualService', {
  virtualServiceName: ResourceName,
});
export type GatewayRouteVirtualService = z.infer<typeof GatewayRouteVirtualService>;

/** An object that represents a gateway route target. */
export const GatewayRouteTarget = structure('GatewayRouteTarget', {
  virtualService: GatewayRouteVirtualService,
  port: ListenerPort.optional(),
});
export type GatewayRouteTarget = z.infer<typeof GatewayRouteTarget>;

export const DefaultGatewayRouteRewrite = named(
  'DefaultGatewayRouteRewrite',
  z.enum(['ENABLED', 'DISABLED']),
);
export type DefaultGatewayRouteRewrite = z.infer<typeof DefaultGatewayRouteRewrite>;

export const HttpGatewayRoutePrefix = named('HttpGatewayRoutePrefix', z.string().min(1).max(255));
export type HttpGatewayRoutePrefix = z.infer<typeof HttpGatewayRoutePrefix>;

/** An object representing the beginning characters of the route to rewrite. */
export const HttpGatewayRoutePrefixRewrite = structure('HttpGatewayRoutePrefixRewrite', {
  defaultPrefix: DefaultGatewayRouteRewrite.optional(),
  value: HttpGatewayRoutePrefix.optional(),
});
export type HttpGatewayRoutePrefixRewrite = z.infer<typeof HttpGatewayRoutePrefixRewrite>;

/** An object that represents the path to rewrite. */
export const HttpGatewayRoutePathRewrite = structure('HttpGatewayRoutePathRewrite', {
  exact: HttpPathExact.optional(),
});
export type HttpGatewayRoutePathRewrite = z.infer<typeof HttpGatewayRoutePathRewrite>;

/** An object representing the gateway route host name to rewrite. */
export const GatewayRouteHostnameRewrite = structure('GatewayRouteHostnameRewrite', {
  defaultTargetHostname: DefaultGatewayRouteRewrite.optional(),
});
export type GatewayRouteHostnameRewrite = z.infer<typeof GatewayRouteHostnameRewrite>;

/** An object representing the gateway route to rewrite. */
export const HttpGatewayRouteRewrite = structure('HttpGatewayRouteRewrite', {
  prefix: HttpGatewayRoutePrefixRewrite.optional(),
  path: HttpGatewayRoutePathRewrite.optional(),
  hostname: GatewayRouteHostnameRewrite.optional(),
});
export type HttpGatewayRouteRewrite = z.infer<typeof HttpGatewayRouteRewrite>;

/** An object that represents the action to take if a match is determined. */
export const HttpGatewayRouteAction = structure('HttpGatewayRouteAction', {
  target: GatewayRouteTarget,
  rewrite: HttpGatewayRouteRewrite.optional(),
});
export type HttpGatewayRouteAction = z.infer<typeof HttpGatewayRouteAction>;

/** An object that represents an HTTP gateway route. */
export const HttpGatewayRoute = structure('HttpGatewayRoute', {
  match: HttpGatewayRouteMatch,
  action: HttpGatewayRouteAction,
});
export type HttpGatewayRoute = z.infer<typeof HttpGatewayRoute>;

/** An object representing the method header to be matched. */
export const GrpcMetadataMatchMethod = union('GrpcMetadataMatchMethod', {
  exact: HeaderMatch,
  regex: HeaderMatch,
  range: MatchRange,
  prefix: HeaderMatch,
  suffix: HeaderMatch,
});
export type GrpcMetadataMatchMethod = z.infer<typeof GrpcMetadataMatchMethod>;

/** An object representing the metadata of the gateway route. */
export const GrpcGatewayRouteMetadata = structure('GrpcGatewayRouteMetadata', {
  name: HeaderName,
  invert: z.boolean().optional(),
  match: GrpcMetadataMatchMethod.optional(),
});
export type GrpcGatewayRouteMetadata = z.infer<typeof GrpcGatewayRouteMetadata>;

export const GrpcGatewayRouteMetadataList = named(
  'GrpcGatewayRouteMetadataList',
  z.array(GrpcGatewayRouteMetadata).min(1).max(10),
);
export type GrpcGatewayRouteMetadataList = z.infer<typeof GrpcGatewayRouteMetadataList>;

/** An object that represents the criteria for determining a request match. */
export const GrpcGatewayRouteMatch = structure('GrpcGatewayRouteMatch', {
  serviceName: ServiceName.optional(),
  hostname: GatewayRouteHostnameMatch.optional(),
  metadata: GrpcGatewayRouteMetadataList.optional(),
  port: ListenerPort.optional(),
});
export type GrpcGatewayRouteMatch = z.infer<typeof GrpcGatewayRouteMatch>;

/** An object that represents the gateway route to rewrite. */
export const GrpcGatewayRouteRewrite = structure('GrpcGatewayRouteRewrite', {
  hostname: GatewayRouteHostnameRewrite.optional(),
});
export type GrpcGatewayRouteRewrite = z.infer<typeof GrpcGatewayRouteRewrite>;

/** An object that represents the action to take if a match is determined. */
export const GrpcGatewayRouteAction = structure('GrpcGatewayRouteAction', {
  target: GatewayRouteTarget,
  rewrite: GrpcGatewayRouteRewrite.optional(),
});
export type GrpcGatewayRouteAction = z.infer<typeof GrpcGatewayRouteAction>;

/** An object that represents a gRPC gateway route. */
export const GrpcGatewayRoute = structure('GrpcGatewayRoute', {
  match: GrpcGatewayRouteMatch,
  action: GrpcGatewayRouteAction,
});
export type GrpcGatewayRoute = z.infer<typeof GrpcGatewayRoute>;

// App Mesh rule, not in the model: a gateway route has exactly one route type.
/** An object that represents a gateway route specification. */
export const GatewayRouteSpec = structure('GatewayRouteSpec', {
  priority: GatewayRoutePriority.optional(),
  httpRoute: HttpGatewayRoute.optional(),
  http2Route: HttpGatewayRoute.optional(),
  grpcRoute: GrpcGatewayRoute.optional(),
}, { oneOf: ['httpRoute', 'http2Route', 'grpcRoute'] });
export type GatewayRouteSpec = z.infer<typeof GatewayRouteSpec>;

export const ListGatewayRoutesLimit = named('ListGatewayRoutesLimit', z.int().min(1).max(100));
export type ListGatewayRoutesLimit = z.infer<typeof ListGatewayRoutesLimit>;

export const ListMeshesLimit = named('ListMeshesLimit', z.int().min(1).max(100));
export type ListMeshesLimit = z.infer<typeof ListMeshesLimit>;

export const ListRoutesLimit = named('ListRoutesLimit', z.int().min(1).max(100));
export type ListRoutesLimit = z.infer<typeof ListRoutesLimit>;

export const TagsLimit = named('TagsLimit', z.int().min(1).max(50));
export type TagsLimit = z.infer<typeof TagsLimit>;

export const ListVirtualGatewaysLimit = named('ListVirtualGatewaysLimit', z.int().min(1).max(100));
export type ListVirtualGatewaysLimit = z.infer<typeof ListVirtualGatewaysLimit>;

export const ListVirtualNodesLimit = named('ListVirtualNodesLimit', z.int().min(1).max(100));
export type ListVirtualNodesLimit = z.infer<typeof ListVirtualNodesLimit>;

export const ListVirtualRoutersLimit = named('ListVirtualRoutersLimit', z.int().min(1).max(100));
export type ListVirtualRoutersLimit = z.infer<typeof ListVirtualRoutersLimit>;

export const ListVirtualServicesLimit = named('ListVirtualServicesLimit', z.int().min(1).max(100));
export type ListVirtualServicesLimit = z.infer<typeof ListVirtualServicesLimit>;

export const TagKeyList = named('TagKeyList', z.array(TagKey).max(50));
export type TagKeyList = z.infer<typeof TagKeyList>;

// ---------------------------------------------------------------------------------------------
// Operation inputs. `<Operation>Input` is the whole input (what `aws appmesh <operation>
// --cli-input-json` takes); `<Operation>Body` is what travels in the JSON body of the request.
// ---------------------------------------------------------------------------------------------

/** The whole input of CreateGatewayRoute: labels, query and body members. */
export const CreateGatewayRouteInput = structure('CreateGatewayRouteInput', {
  gatewayRouteName: ResourceName,
  meshName: ResourceName,
  virtualGatewayName: ResourceName,
  spec: GatewayRouteSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateGatewayRouteInput = z.infer<typeof CreateGatewayRouteInput>;

/** The JSON body of a CreateGatewayRoute request (the input without its labels and query members). */
export const CreateGatewayRouteBody = structure('CreateGatewayRouteInput', {
  gatewayRouteName: ResourceName,
  spec: GatewayRouteSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateGatewayRouteBody = z.infer<typeof CreateGatewayRouteBody>;

/** The whole input of CreateMesh: labels, query and body members. */
export const CreateMeshInput = structure('CreateMeshInput', {
  meshName: ResourceName,
  spec: MeshSpec.optional(),
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateMeshInput = z.infer<typeof CreateMeshInput>;

/** The JSON body of a CreateMesh request (the input without its labels and query members). */
export const CreateMeshBody = structure('CreateMeshInput', {
  meshName: ResourceName,
  spec: MeshSpec.optional(),
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateMeshBody = z.infer<typeof CreateMeshBody>;

/** The whole input of CreateRoute: labels, query and body members. */
export const CreateRouteInput = structure('CreateRouteInput', {
  routeName: ResourceName,
  meshName: ResourceName,
  virtualRouterName: ResourceName,
  spec: RouteSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateRouteInput = z.infer<typeof CreateRouteInput>;

/** The JSON body of a CreateRoute request (the input without its labels and query members). */
export const CreateRouteBody = structure('CreateRouteInput', {
  routeName: ResourceName,
  spec: RouteSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateRouteBody = z.infer<typeof CreateRouteBody>;

/** The whole input of CreateVirtualGateway: labels, query and body members. */
export const CreateVirtualGatewayInput = structure('CreateVirtualGatewayInput', {
  virtualGatewayName: ResourceName,
  meshName: ResourceName,
  spec: VirtualGatewaySpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateVirtualGatewayInput = z.infer<typeof CreateVirtualGatewayInput>;

/** The JSON body of a CreateVirtualGateway request (the input without its labels and query members). */
export const CreateVirtualGatewayBody = structure('CreateVirtualGatewayInput', {
  virtualGatewayName: ResourceName,
  spec: VirtualGatewaySpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateVirtualGatewayBody = z.infer<typeof CreateVirtualGatewayBody>;

/** The whole input of CreateVirtualNode: labels, query and body members. */
export const CreateVirtualNodeInput = structure('CreateVirtualNodeInput', {
  virtualNodeName: ResourceName,
  meshName: ResourceName,
  spec: VirtualNodeSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateVirtualNodeInput = z.infer<typeof CreateVirtualNodeInput>;

/** The JSON body of a CreateVirtualNode request (the input without its labels and query members). */
export const CreateVirtualNodeBody = structure('CreateVirtualNodeInput', {
  virtualNodeName: ResourceName,
  spec: VirtualNodeSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateVirtualNodeBody = z.infer<typeof CreateVirtualNodeBody>;

/** The whole input of CreateVirtualRouter: labels, query and body members. */
export const CreateVirtualRouterInput = structure('CreateVirtualRouterInput', {
  virtualRouterName: ResourceName,
  meshName: ResourceName,
  spec: VirtualRouterSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateVirtualRouterInput = z.infer<typeof CreateVirtualRouterInput>;

/** The JSON body of a CreateVirtualRouter request (the input without its labels and query members). */
export const CreateVirtualRouterBody = structure('CreateVirtualRouterInput', {
  virtualRouterName: ResourceName,
  spec: VirtualRouterSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateVirtualRouterBody = z.infer<typeof CreateVirtualRouterBody>;

/** The whole input of CreateVirtualService: labels, query and body members. */
export const CreateVirtualServiceInput = structure('CreateVirtualServiceInput', {
  virtualServiceName: ServiceName,
  meshName: ResourceName,
  spec: VirtualServiceSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type CreateVirtualServiceInput = z.infer<typeof CreateVirtualServiceInput>;

/** The JSON body of a CreateVirtualService request (the input without its labels and query members). */
export const CreateVirtualServiceBody = structure('CreateVirtualServiceInput', {
  virtualServiceName: ServiceName,
  spec: VirtualServiceSpec,
  tags: TagList.optional(),
  clientToken: z.string().optional(),
});
export type CreateVirtualServiceBody = z.infer<typeof CreateVirtualServiceBody>;

/** The whole input of DeleteGatewayRoute: labels, query and body members. */
export const DeleteGatewayRouteInput = structure('DeleteGatewayRouteInput', {
  gatewayRouteName: ResourceName,
  meshName: ResourceName,
  virtualGatewayName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteGatewayRouteInput = z.infer<typeof DeleteGatewayRouteInput>;

/** The whole input of DeleteMesh: labels, query and body members. */
export const DeleteMeshInput = structure('DeleteMeshInput', {
  meshName: ResourceName,
});
export type DeleteMeshInput = z.infer<typeof DeleteMeshInput>;

/** The whole input of DeleteRoute: labels, query and body members. */
export const DeleteRouteInput = structure('DeleteRouteInput', {
  routeName: ResourceName,
  meshName: ResourceName,
  virtualRouterName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteRouteInput = z.infer<typeof DeleteRouteInput>;

/** The whole input of DeleteVirtualGateway: labels, query and body members. */
export const DeleteVirtualGatewayInput = structure('DeleteVirtualGatewayInput', {
  virtualGatewayName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteVirtualGatewayInput = z.infer<typeof DeleteVirtualGatewayInput>;

/** The whole input of DeleteVirtualNode: labels, query and body members. */
export const DeleteVirtualNodeInput = structure('DeleteVirtualNodeInput', {
  virtualNodeName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteVirtualNodeInput = z.infer<typeof DeleteVirtualNodeInput>;

/** The whole input of DeleteVirtualRouter: labels, query and body members. */
export const DeleteVirtualRouterInput = structure('DeleteVirtualRouterInput', {
  virtualRouterName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteVirtualRouterInput = z.infer<typeof DeleteVirtualRouterInput>;

/** The whole input of DeleteVirtualService: labels, query and body members. */
export const DeleteVirtualServiceInput = structure('DeleteVirtualServiceInput', {
  virtualServiceName: ServiceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DeleteVirtualServiceInput = z.infer<typeof DeleteVirtualServiceInput>;

/** The whole input of DescribeGatewayRoute: labels, query and body members. */
export const DescribeGatewayRouteInput = structure('DescribeGatewayRouteInput', {
  gatewayRouteName: ResourceName,
  meshName: ResourceName,
  virtualGatewayName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeGatewayRouteInput = z.infer<typeof DescribeGatewayRouteInput>;

/** The whole input of DescribeMesh: labels, query and body members. */
export const DescribeMeshInput = structure('DescribeMeshInput', {
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeMeshInput = z.infer<typeof DescribeMeshInput>;

/** The whole input of DescribeRoute: labels, query and body members. */
export const DescribeRouteInput = structure('DescribeRouteInput', {
  routeName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
  virtualRouterName: ResourceName,
});
export type DescribeRouteInput = z.infer<typeof DescribeRouteInput>;

/** The whole input of DescribeVirtualGateway: labels, query and body members. */
export const DescribeVirtualGatewayInput = structure('DescribeVirtualGatewayInput', {
  virtualGatewayName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeVirtualGatewayInput = z.infer<typeof DescribeVirtualGatewayInput>;

/** The whole input of DescribeVirtualNode: labels, query and body members. */
export const DescribeVirtualNodeInput = structure('DescribeVirtualNodeInput', {
  virtualNodeName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeVirtualNodeInput = z.infer<typeof DescribeVirtualNodeInput>;

/** The whole input of DescribeVirtualRouter: labels, query and body members. */
export const DescribeVirtualRouterInput = structure('DescribeVirtualRouterInput', {
  virtualRouterName: ResourceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeVirtualRouterInput = z.infer<typeof DescribeVirtualRouterInput>;

/** The whole input of DescribeVirtualService: labels, query and body members. */
export const DescribeVirtualServiceInput = structure('DescribeVirtualServiceInput', {
  virtualServiceName: ServiceName,
  meshName: ResourceName,
  meshOwner: AccountId.optional(),
});
export type DescribeVirtualServiceInput = z.infer<typeof DescribeVirtualServiceInput>;

/** The whole input of ListGatewayRoutes: labels, query and body members. */
export const ListGatewayRoutesInput = structure('ListGatewayRoutesInput', {
  meshName: ResourceName,
  virtualGatewayName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListGatewayRoutesLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListGatewayRoutesInput = z.infer<typeof ListGatewayRoutesInput>;

/** The whole input of ListMeshes: labels, query and body members. */
export const ListMeshesInput = structure('ListMeshesInput', {
  nextToken: z.string().optional(),
  limit: ListMeshesLimit.optional(),
});
export type ListMeshesInput = z.infer<typeof ListMeshesInput>;

/** The whole input of ListRoutes: labels, query and body members. */
export const ListRoutesInput = structure('ListRoutesInput', {
  meshName: ResourceName,
  virtualRouterName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListRoutesLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListRoutesInput = z.infer<typeof ListRoutesInput>;

/** The whole input of ListTagsForResource: labels, query and body members. */
export const ListTagsForResourceInput = structure('ListTagsForResourceInput', {
  resourceArn: Arn,
  nextToken: z.string().optional(),
  limit: TagsLimit.optional(),
});
export type ListTagsForResourceInput = z.infer<typeof ListTagsForResourceInput>;

/** The whole input of ListVirtualGateways: labels, query and body members. */
export const ListVirtualGatewaysInput = structure('ListVirtualGatewaysInput', {
  meshName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListVirtualGatewaysLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListVirtualGatewaysInput = z.infer<typeof ListVirtualGatewaysInput>;

/** The whole input of ListVirtualNodes: labels, query and body members. */
export const ListVirtualNodesInput = structure('ListVirtualNodesInput', {
  meshName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListVirtualNodesLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListVirtualNodesInput = z.infer<typeof ListVirtualNodesInput>;

/** The whole input of ListVirtualRouters: labels, query and body members. */
export const ListVirtualRoutersInput = structure('ListVirtualRoutersInput', {
  meshName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListVirtualRoutersLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListVirtualRoutersInput = z.infer<typeof ListVirtualRoutersInput>;

/** The whole input of ListVirtualServices: labels, query and body members. */
export const ListVirtualServicesInput = structure('ListVirtualServicesInput', {
  meshName: ResourceName,
  nextToken: z.string().optional(),
  limit: ListVirtualServicesLimit.optional(),
  meshOwner: AccountId.optional(),
});
export type ListVirtualServicesInput = z.infer<typeof ListVirtualServicesInput>;

/** The whole input of TagResource: labels, query and body members. */
export const TagResourceInput = structure('TagResourceInput', {
  resourceArn: Arn,
  tags: TagList,
});
export type TagResourceInput = z.infer<typeof TagResourceInput>;

/** The JSON body of a TagResource request (the input without its labels and query members). */
export const TagResourceBody = structure('TagResourceInput', {
  tags: TagList,
});
export type TagResourceBody = z.infer<typeof TagResourceBody>;

/** The whole input of UntagResource: labels, query and body members. */
export const UntagResourceInput = structure('UntagResourceInput', {
  resourceArn: Arn,
  tagKeys: TagKeyList,
});
export type UntagResourceInput = z.infer<typeof UntagResourceInput>;

/** The JSON body of a UntagResource request (the input without its labels and query members). */
export const UntagResourceBody = structure('UntagResourceInput', {
  tagKeys: TagKeyList,
});
export type UntagResourceBody = z.infer<typeof UntagResourceBody>;

/** The whole input of UpdateGatewayRoute: labels, query and body members. */
export const UpdateGatewayRouteInput = structure('UpdateGatewayRouteInput', {
  gatewayRouteName: ResourceName,
  meshName: ResourceName,
  virtualGatewayName: ResourceName,
  spec: GatewayRouteSpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateGatewayRouteInput = z.infer<typeof UpdateGatewayRouteInput>;

/** The JSON body of a UpdateGatewayRoute request (the input without its labels and query members). */
export const UpdateGatewayRouteBody = structure('UpdateGatewayRouteInput', {
  spec: GatewayRouteSpec,
  clientToken: z.string().optional(),
});
export type UpdateGatewayRouteBody = z.infer<typeof UpdateGatewayRouteBody>;

/** The whole input of UpdateMesh: labels, query and body members. */
export const UpdateMeshInput = structure('UpdateMeshInput', {
  meshName: ResourceName,
  spec: MeshSpec.optional(),
  clientToken: z.string().optional(),
});
export type UpdateMeshInput = z.infer<typeof UpdateMeshInput>;

/** The JSON body of a UpdateMesh request (the input without its labels and query members). */
export const UpdateMeshBody = structure('UpdateMeshInput', {
  spec: MeshSpec.optional(),
  clientToken: z.string().optional(),
});
export type UpdateMeshBody = z.infer<typeof UpdateMeshBody>;

/** The whole input of UpdateRoute: labels, query and body members. */
export const UpdateRouteInput = structure('UpdateRouteInput', {
  routeName: ResourceName,
  meshName: ResourceName,
  virtualRouterName: ResourceName,
  spec: RouteSpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateRouteInput = z.infer<typeof UpdateRouteInput>;

/** The JSON body of a UpdateRoute request (the input without its labels and query members). */
export const UpdateRouteBody = structure('UpdateRouteInput', {
  spec: RouteSpec,
  clientToken: z.string().optional(),
});
export type UpdateRouteBody = z.infer<typeof UpdateRouteBody>;

/** The whole input of UpdateVirtualGateway: labels, query and body members. */
export const UpdateVirtualGatewayInput = structure('UpdateVirtualGatewayInput', {
  virtualGatewayName: ResourceName,
  meshName: ResourceName,
  spec: VirtualGatewaySpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateVirtualGatewayInput = z.infer<typeof UpdateVirtualGatewayInput>;

/** The JSON body of a UpdateVirtualGateway request (the input without its labels and query members). */
export const UpdateVirtualGatewayBody = structure('UpdateVirtualGatewayInput', {
  spec: VirtualGatewaySpec,
  clientToken: z.string().optional(),
});
export type UpdateVirtualGatewayBody = z.infer<typeof UpdateVirtualGatewayBody>;

/** The whole input of UpdateVirtualNode: labels, query and body members. */
export const UpdateVirtualNodeInput = structure('UpdateVirtualNodeInput', {
  virtualNodeName: ResourceName,
  meshName: ResourceName,
  spec: VirtualNodeSpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateVirtualNodeInput = z.infer<typeof UpdateVirtualNodeInput>;

/** The JSON body of a UpdateVirtualNode request (the input without its labels and query members). */
export const UpdateVirtualNodeBody = structure('UpdateVirtualNodeInput', {
  spec: VirtualNodeSpec,
  clientToken: z.string().optional(),
});
export type UpdateVirtualNodeBody = z.infer<typeof UpdateVirtualNodeBody>;

/** The whole input of UpdateVirtualRouter: labels, query and body members. */
export const UpdateVirtualRouterInput = structure('UpdateVirtualRouterInput', {
  virtualRouterName: ResourceName,
  meshName: ResourceName,
  spec: VirtualRouterSpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateVirtualRouterInput = z.infer<typeof UpdateVirtualRouterInput>;

/** The JSON body of a UpdateVirtualRouter request (the input without its labels and query members). */
export const UpdateVirtualRouterBody = structure('UpdateVirtualRouterInput', {
  spec: VirtualRouterSpec,
  clientToken: z.string().optional(),
});
export type UpdateVirtualRouterBody = z.infer<typeof UpdateVirtualRouterBody>;

/** The whole input of UpdateVirtualService: labels, query and body members. */
export const UpdateVirtualServiceInput = structure('UpdateVirtualServiceInput', {
  virtualServiceName: ServiceName,
  meshName: ResourceName,
  spec: VirtualServiceSpec,
  clientToken: z.string().optional(),
  meshOwner: AccountId.optional(),
});
export type UpdateVirtualServiceInput = z.infer<typeof UpdateVirtualServiceInput>;

/** The JSON body of a UpdateVirtualService request (the input without its labels and query members). */
export const UpdateVirtualServiceBody = structure('UpdateVirtualServiceInput', {
  spec: VirtualServiceSpec,
  clientToken: z.string().optional(),
});
export type UpdateVirtualServiceBody = z.infer<typeof UpdateVirtualServiceBody>;

/** How one App Mesh operation travels over HTTP (restJson1), from the model's http traits. */
export interface OperationSpec {
  readonly name: string;
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** URI template, labels in braces: `/v20190125/meshes/{meshName}/virtualNodes`. */
  readonly uri: string;
  /** HTTP status of a success. */
  readonly code: number;
  /** Members bound to URI labels, in URI order, with their schemas. */
  readonly labels: Readonly<Record<string, z.ZodType>>;
  /** Members bound to query parameters: member name -> query parameter name and schema. */
  readonly query: Readonly<Record<string, { readonly name: string; readonly schema: z.ZodType }>>;
  /** Schema of the JSON body, or undefined when the operation has no body members. */
  readonly body: z.ZodObject | undefined;
  /** Schema of the whole input (labels, query and body members together). */
  readonly input: z.ZodObject;
  /** The output member sent as the whole response body (`mesh` for CreateMesh); undefined when the output's members are the body. */
  readonly outputPayload: string | undefined;
  /** For paginated (`limit`/`nextToken`) operations, the output member holding the page. */
  readonly paginatedItems: string | undefined;
}

/** The 38 operations of App Mesh 2019-01-25, keyed by name. */
export const OPERATIONS = {
  CreateGatewayRoute: {
    name: 'CreateGatewayRoute',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualGateway/{virtualGatewayName}/gatewayRoutes',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateGatewayRouteBody,
    input: CreateGatewayRouteInput,
    outputPayload: 'gatewayRoute',
    paginatedItems: undefined,
  },
  CreateMesh: {
    name: 'CreateMesh',
    method: 'PUT',
    uri: '/v20190125/meshes',
    code: 200,
    labels: {},
    query: {},
    body: CreateMeshBody,
    input: CreateMeshInput,
    outputPayload: 'mesh',
    paginatedItems: undefined,
  },
  CreateRoute: {
    name: 'CreateRoute',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateRouteBody,
    input: CreateRouteInput,
    outputPayload: 'route',
    paginatedItems: undefined,
  },
  CreateVirtualGateway: {
    name: 'CreateVirtualGateway',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualGateways',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateVirtualGatewayBody,
    input: CreateVirtualGatewayInput,
    outputPayload: 'virtualGateway',
    paginatedItems: undefined,
  },
  CreateVirtualNode: {
    name: 'CreateVirtualNode',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualNodes',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateVirtualNodeBody,
    input: CreateVirtualNodeInput,
    outputPayload: 'virtualNode',
    paginatedItems: undefined,
  },
  CreateVirtualRouter: {
    name: 'CreateVirtualRouter',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualRouters',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateVirtualRouterBody,
    input: CreateVirtualRouterInput,
    outputPayload: 'virtualRouter',
    paginatedItems: undefined,
  },
  CreateVirtualService: {
    name: 'CreateVirtualService',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualServices',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: CreateVirtualServiceBody,
    input: CreateVirtualServiceInput,
    outputPayload: 'virtualService',
    paginatedItems: undefined,
  },
  DeleteGatewayRoute: {
    name: 'DeleteGatewayRoute',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualGateway/{virtualGatewayName}/gatewayRoutes/{gatewayRouteName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName, gatewayRouteName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteGatewayRouteInput,
    outputPayload: 'gatewayRoute',
    paginatedItems: undefined,
  },
  DeleteMesh: {
    name: 'DeleteMesh',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}',
    code: 200,
    labels: { meshName: ResourceName },
    query: {},
    body: undefined,
    input: DeleteMeshInput,
    outputPayload: 'mesh',
    paginatedItems: undefined,
  },
  DeleteRoute: {
    name: 'DeleteRoute',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes/{routeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName, routeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteRouteInput,
    outputPayload: 'route',
    paginatedItems: undefined,
  },
  DeleteVirtualGateway: {
    name: 'DeleteVirtualGateway',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualGateways/{virtualGatewayName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteVirtualGatewayInput,
    outputPayload: 'virtualGateway',
    paginatedItems: undefined,
  },
  DeleteVirtualNode: {
    name: 'DeleteVirtualNode',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualNodes/{virtualNodeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualNodeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteVirtualNodeInput,
    outputPayload: 'virtualNode',
    paginatedItems: undefined,
  },
  DeleteVirtualRouter: {
    name: 'DeleteVirtualRouter',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualRouters/{virtualRouterName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteVirtualRouterInput,
    outputPayload: 'virtualRouter',
    paginatedItems: undefined,
  },
  DeleteVirtualService: {
    name: 'DeleteVirtualService',
    method: 'DELETE',
    uri: '/v20190125/meshes/{meshName}/virtualServices/{virtualServiceName}',
    code: 200,
    labels: { meshName: ResourceName, virtualServiceName: ServiceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DeleteVirtualServiceInput,
    outputPayload: 'virtualService',
    paginatedItems: undefined,
  },
  DescribeGatewayRoute: {
    name: 'DescribeGatewayRoute',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualGateway/{virtualGatewayName}/gatewayRoutes/{gatewayRouteName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName, gatewayRouteName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeGatewayRouteInput,
    outputPayload: 'gatewayRoute',
    paginatedItems: undefined,
  },
  DescribeMesh: {
    name: 'DescribeMesh',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeMeshInput,
    outputPayload: 'mesh',
    paginatedItems: undefined,
  },
  DescribeRoute: {
    name: 'DescribeRoute',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes/{routeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName, routeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeRouteInput,
    outputPayload: 'route',
    paginatedItems: undefined,
  },
  DescribeVirtualGateway: {
    name: 'DescribeVirtualGateway',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualGateways/{virtualGatewayName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeVirtualGatewayInput,
    outputPayload: 'virtualGateway',
    paginatedItems: undefined,
  },
  DescribeVirtualNode: {
    name: 'DescribeVirtualNode',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualNodes/{virtualNodeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualNodeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeVirtualNodeInput,
    outputPayload: 'virtualNode',
    paginatedItems: undefined,
  },
  DescribeVirtualRouter: {
    name: 'DescribeVirtualRouter',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualRouters/{virtualRouterName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeVirtualRouterInput,
    outputPayload: 'virtualRouter',
    paginatedItems: undefined,
  },
  DescribeVirtualService: {
    name: 'DescribeVirtualService',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualServices/{virtualServiceName}',
    code: 200,
    labels: { meshName: ResourceName, virtualServiceName: ServiceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: DescribeVirtualServiceInput,
    outputPayload: 'virtualService',
    paginatedItems: undefined,
  },
  ListGatewayRoutes: {
    name: 'ListGatewayRoutes',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualGateway/{virtualGatewayName}/gatewayRoutes',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListGatewayRoutesLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListGatewayRoutesInput,
    outputPayload: undefined,
    paginatedItems: 'gatewayRoutes',
  },
  ListMeshes: {
    name: 'ListMeshes',
    method: 'GET',
    uri: '/v20190125/meshes',
    code: 200,
    labels: {},
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListMeshesLimit },
    },
    body: undefined,
    input: ListMeshesInput,
    outputPayload: undefined,
    paginatedItems: 'meshes',
  },
  ListRoutes: {
    name: 'ListRoutes',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListRoutesLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListRoutesInput,
    outputPayload: undefined,
    paginatedItems: 'routes',
  },
  ListTagsForResource: {
    name: 'ListTagsForResource',
    method: 'GET',
    uri: '/v20190125/tags',
    code: 200,
    labels: {},
    query: {
      resourceArn: { name: 'resourceArn', schema: Arn },
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: TagsLimit },
    },
    body: undefined,
    input: ListTagsForResourceInput,
    outputPayload: undefined,
    paginatedItems: 'tags',
  },
  ListVirtualGateways: {
    name: 'ListVirtualGateways',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualGateways',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListVirtualGatewaysLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListVirtualGatewaysInput,
    outputPayload: undefined,
    paginatedItems: 'virtualGateways',
  },
  ListVirtualNodes: {
    name: 'ListVirtualNodes',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualNodes',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListVirtualNodesLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListVirtualNodesInput,
    outputPayload: undefined,
    paginatedItems: 'virtualNodes',
  },
  ListVirtualRouters: {
    name: 'ListVirtualRouters',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualRouters',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListVirtualRoutersLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListVirtualRoutersInput,
    outputPayload: undefined,
    paginatedItems: 'virtualRouters',
  },
  ListVirtualServices: {
    name: 'ListVirtualServices',
    method: 'GET',
    uri: '/v20190125/meshes/{meshName}/virtualServices',
    code: 200,
    labels: { meshName: ResourceName },
    query: {
      nextToken: { name: 'nextToken', schema: z.string() },
      limit: { name: 'limit', schema: ListVirtualServicesLimit },
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: undefined,
    input: ListVirtualServicesInput,
    outputPayload: undefined,
    paginatedItems: 'virtualServices',
  },
  TagResource: {
    name: 'TagResource',
    method: 'PUT',
    uri: '/v20190125/tag',
    code: 200,
    labels: {},
    query: {
      resourceArn: { name: 'resourceArn', schema: Arn },
    },
    body: TagResourceBody,
    input: TagResourceInput,
    outputPayload: undefined,
    paginatedItems: undefined,
  },
  UntagResource: {
    name: 'UntagResource',
    method: 'PUT',
    uri: '/v20190125/untag',
    code: 200,
    labels: {},
    query: {
      resourceArn: { name: 'resourceArn', schema: Arn },
    },
    body: UntagResourceBody,
    input: UntagResourceInput,
    outputPayload: undefined,
    paginatedItems: undefined,
  },
  UpdateGatewayRoute: {
    name: 'UpdateGatewayRoute',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualGateway/{virtualGatewayName}/gatewayRoutes/{gatewayRouteName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName, gatewayRouteName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateGatewayRouteBody,
    input: UpdateGatewayRouteInput,
    outputPayload: 'gatewayRoute',
    paginatedItems: undefined,
  },
  UpdateMesh: {
    name: 'UpdateMesh',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}',
    code: 200,
    labels: { meshName: ResourceName },
    query: {},
    body: UpdateMeshBody,
    input: UpdateMeshInput,
    outputPayload: 'mesh',
    paginatedItems: undefined,
  },
  UpdateRoute: {
    name: 'UpdateRoute',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualRouter/{virtualRouterName}/routes/{routeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName, routeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateRouteBody,
    input: UpdateRouteInput,
    outputPayload: 'route',
    paginatedItems: undefined,
  },
  UpdateVirtualGateway: {
    name: 'UpdateVirtualGateway',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualGateways/{virtualGatewayName}',
    code: 200,
    labels: { meshName: ResourceName, virtualGatewayName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateVirtualGatewayBody,
    input: UpdateVirtualGatewayInput,
    outputPayload: 'virtualGateway',
    paginatedItems: undefined,
  },
  UpdateVirtualNode: {
    name: 'UpdateVirtualNode',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualNodes/{virtualNodeName}',
    code: 200,
    labels: { meshName: ResourceName, virtualNodeName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateVirtualNodeBody,
    input: UpdateVirtualNodeInput,
    outputPayload: 'virtualNode',
    paginatedItems: undefined,
  },
  UpdateVirtualRouter: {
    name: 'UpdateVirtualRouter',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualRouters/{virtualRouterName}',
    code: 200,
    labels: { meshName: ResourceName, virtualRouterName: ResourceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateVirtualRouterBody,
    input: UpdateVirtualRouterInput,
    outputPayload: 'virtualRouter',
    paginatedItems: undefined,
  },
  UpdateVirtualService: {
    name: 'UpdateVirtualService',
    method: 'PUT',
    uri: '/v20190125/meshes/{meshName}/virtualServices/{virtualServiceName}',
    code: 200,
    labels: { meshName: ResourceName, virtualServiceName: ServiceName },
    query: {
      meshOwner: { name: 'meshOwner', schema: AccountId },
    },
    body: UpdateVirtualServiceBody,
    input: UpdateVirtualServiceInput,
    outputPayload: 'virtualService',
    paginatedItems: undefined,
  },
} as const satisfies Record<string, OperationSpec>;

export type OperationName = keyof typeof OPERATIONS;

/** HTTP status of each App Mesh error shape (smithy.api#httpError). */
export const ERROR_STATUS = {
  BadRequestException: 400,
  ConflictException: 409,
  ForbiddenException: 403,
  InternalServerErrorException: 500,
  LimitExceededException: 400,
  NotFoundException: 404,
  ResourceInUseException: 409,
  ServiceUnavailableException: 503,
  TooManyRequestsException: 429,
  TooManyTagsException: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

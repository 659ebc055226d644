import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';

/** Where and as whom to reach DynamoDB and S3. Endpoints are set only for emulators. */
export interface AwsSettings {
  region: string;
  dynamodbEndpoint?: string | undefined;
  s3Endpoint?: string | undefined;
  /** Static credentials (emulators); absent in AWS, where the default provider chain applies. */
  dynamodbCredentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  s3Credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** A DynamoDB document client that keeps numbers as numbers and drops undefined members. */
export function createDocumentClient(settings: AwsSettings): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: settings.region,
    ...(settings.dynamodbEndpoint ? { endpoint: settings.dynamodbEndpoint } : {}),
    ...(settings.dynamodbCredentials ? { credentials: settings.dynamodbCredentials } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * An S3 client. Checksums only when required: s3rver corrupts streamed uploads sent with the
 * SDK's default flexible checksums, and real S3 does not need them for our small objects.
 */
export function createS3Client(settings: AwsSettings): S3Client {
  return new S3Client({
    region: settings.region,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A response that stops mid-body must fail (and be retried), never hang a relay's watch.
    // Without throwOnRequestTimeout the SDK only logs a warning and keeps waiting forever.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
    ...(settings.s3Credentials ? { credentials: settings.s3Credentials } : {}),
  });
}

/**
 * Reads AwsSettings from the environment variables the Lambda functions, the relay and the
 * local stack share. Only entry points (handler modules, relay main, scripts) call this.
 */
export function awsSettingsFromEnv(env: NodeJS.ProcessEnv): AwsSettings {
  const local = (key: string, secret: string) => ({ accessKeyId: key, secretAccessKey: secret });
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamodbEndpoint: env.MESHLINE_DYNAMODB_ENDPOINT || undefined,
    s3Endpoint: env.MESHLINE_S3_ENDPOINT || undefined,
    // The embedded S3 emulator (s3rver) only accepts this one key pair; LocalStack takes any.
    s3Credentials: env.MESHLINE_S3_ENDPOINT ? local('S3RVER', 'S3RVER') : undefined,
    dynamodbCredentials: env.MESHLINE_DYNAMODB_ENDPOINT ? local('local', 'local') : undefined,
  };
}

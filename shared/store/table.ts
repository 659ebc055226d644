import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** Partition key of every table; in the mesh table every entity of a mesh shares its mesh's value. */
export const PARTITION_KEY = 'pk';

/** Sort key of every table; in the mesh table it tells the entities of one mesh apart. */
export const SORT_KEY = 'sk';

/**
 * A table keyed by `pk` (partition) and `sk` (sort), billed per request, without a stream: the
 * shape of every Meshline table. The sync status, traffic, rollouts and keys tables are exactly
 * this (nothing they hold may wake the compiler); the mesh table adds its stream.
 */
export const keyedTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = {
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: PARTITION_KEY, AttributeType: 'S' },
    { AttributeName: SORT_KEY, AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
    { AttributeName: SORT_KEY, KeyType: 'RANGE' },
  ],
};

/**
 * The mesh table as DynamoDB's CreateTable takes it, minus the name (which differs per stage).
 * The one definition the local stack creates and the repository's key names come from;
 * serverless.yml (`MeshTable`) and localstack/init/ready.d/10-meshline.sh restate it for
 * CloudFormation and awslocal, and test/integration/local-stack.test.ts checks they agree.
 */
export const meshTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = {
  ...keyedTableDefinition,
  // The compile function is driven by this stream; it needs both images to see deletes.
  StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
};

/**
 * Per-key request rate limiting in fixed one-second windows.
 *
 * The count of each window lives in DynamoDB (the keys table, pk `rate#<accessKeyId>`, sk the
 * epoch second), so the limit is global: it holds across every Lambda container and relay task
 * at once, not per process. A request costs one conditional UpdateItem. Windows are fixed, not
 * sliding: a client may send up to twice the limit across the boundary of two seconds. Window
 * items expire by TTL a minute after their second.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KEYS_PARTITION_KEY, KEYS_SORT_KEY, KEYS_TTL_ATTRIBUTE } from './keys.js';

/** How long a window item outlives its second (TTL deletes it; it is never read again anyway). */
const WINDOW_TTL_SECONDS = 60;

export class RateLimiter {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  /**
   * Counts one request of `accessKeyId` in the current second; false when that second already
   * has `limitPerSecond` requests (the request should be refused, and is not counted).
   */
  async take(accessKeyId: string, limitPerSecond: number, now = Date.now()): Promise<boolean> {
    const second = Math.floor(now / 1000);
    try {
      await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: { [KEYS_PARTITION_KEY]: `rate#${accessKeyId}`, [KEYS_SORT_KEY]: String(second) },
          UpdateExpression: 'ADD #c :one SET #ttl = if_not_exists(#ttl, :expiresAt)',
          // The first request of a window finds no count (the item does not exist yet); every
          // later one is counted only while the count is below the limit. DynamoDB evaluates
          // the condition and the ADD atomically, so concurrent requests from any number of
          // containers never push the count past the limit: exactly `limit` succeed per window.
          ConditionExpression: 'attribute_not_exists(#c) OR #c < :limit',
          ExpressionAttributeNames: { '#c': 'count', '#ttl': KEYS_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':one': 1, ':limit': limitPerSecond, ':expiresAt': second + WINDOW_TTL_SECONDS },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

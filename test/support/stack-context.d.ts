import type { LocalStack } from '../../scripts/local-stack/index.js';

/** What test/support/global-setup.ts hands every test file: where the local stack listens. */
export type StackContext = Pick<LocalStack, 'endpoints' | 'env' | 'tableName' | 'bucketName' | 'region' | 'logFile' | 'adminKey' | 'keysTableName' | 'keyFile'>;

declare module 'vitest' {
  export interface ProvidedContext {
    /** The running local stack; read it with `inject('stack')`. */
    stack: StackContext;
  }
}

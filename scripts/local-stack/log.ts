import { createWriteStream } from 'node:fs';

/** Where the local stack's output goes: one line at a time, each under the name of its part. */
export interface StackLog {
  /** Writes `[part] text` to the log file and, unless quiet, to stdout. */
  line(part: string, text: string): void;
  /** The most recent lines, for showing why a quiet start failed. */
  tail(): string;
  /** Flushes and closes the log file. */
  close(): Promise<void>;
  /** The file every line is also written to. */
  readonly file: string;
}

/** How many recent lines `tail()` keeps. Enough to show a stack trace and what led to it. */
const TAIL_LINES = 300;

/**
 * Creates the stack's log. Every line goes to `file` (truncated first), so a test can watch
 * for a function's invocation and a user can read the whole story after the fact; `quiet`
 * keeps stdout clean for tests, which print the tail only when the start fails.
 */
export function createStackLog(file: string, quiet: boolean): StackLog {
  const out = createWriteStream(file, { flags: 'w' });
  const recent: string[] = [];
  let closed = false;
  return {
    file,
    line(part, text) {
      const line = `[${part}] ${text}`;
      recent.push(line);
      if (recent.length > TAIL_LINES) recent.shift();
      // A child can still print while the stack is stopping; the file is gone by then.
      if (!closed) out.write(line + '\n');
      if (!quiet) process.stdout.write(line + '\n');
    },
    tail: () => recent.join('\n'),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => out.end(resolve));
    },
  };
}

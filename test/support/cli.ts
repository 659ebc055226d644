import { Writable } from 'node:stream';
import { inject } from 'vitest';
import { main } from '../../cli/main.js';

/** What one `meshline` command printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `meshline <args> --endpoint <the local stack's API>` in this process, capturing its output. */
export async function runCli(args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _e, done) => (append(String(chunk)), done()) });
  const code = await main([...args, '--endpoint', inject('stack').endpoints.api], sink((s) => (out += s)) as never, sink((s) => (err += s)) as never);
  return { code, out, err };
}

import type { StackLog } from './log.js';

/** A timer that runs the scheduled rollouts function; `stop()` waits for a tick in flight. */
export interface RolloutTicker {
  stop(): Promise<void>;
}

/**
 * What EventBridge's `rate(1 minute)` does in AWS, every `intervalMs` here: invokes the real
 * rollouts handler (functions/rollouts/handler.ts) through serverless-offline's Lambda Invoke
 * endpoint, one tick at a time (the next starts `intervalMs` after the last ended, as the
 * function's reserved concurrency of 1 allows no overlap). A failing tick is logged once per
 * distinct error, not every second.
 */
export function startRolloutTicker(log: StackLog, options: { lambda: string; functionName: string; intervalMs: number }): RolloutTicker {
  const url = `${options.lambda.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let lastError = '';
  const controller = new AbortController();

  const tick = async (): Promise<void> => {
    try {
      const response = await fetch(url, { method: 'POST', body: '{}', signal: controller.signal });
      const body = await response.text();
      const failed = !response.ok || response.headers.has('x-amz-function-error');
      const error = failed ? `HTTP ${response.status}: ${body.slice(0, 500)}` : '';
      if (error && error !== lastError) log.line('rollouts', `tick failed: ${error}`);
      lastError = error;
    } catch (error) {
      if (stopped) return;
      const message = (error as Error).message;
      if (message !== lastError) log.line('rollouts', `tick failed: ${message}`);
      lastError = message;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = tick().finally(schedule);
    }, options.intervalMs);
  };
  schedule();
  log.line('rollouts', `advancing rollouts every ${options.intervalMs} ms (${options.functionName})`);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      await inFlight.catch(() => undefined);
    },
  };
}

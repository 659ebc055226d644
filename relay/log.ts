/** Fields attached to one log line. */
export type LogFields = Record<string, unknown>;

/** The relay's structured logger: one JSON object per line. */
export interface Logger {
  /** False when debug lines are dropped, so callers can skip building them on hot paths. */
  readonly debugEnabled?: boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

type Level = keyof Logger;
const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/** Turns an Error into something JSON.stringify keeps (an Error's own fields are not enumerable). */
function serializable(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * A logger writing JSON lines (`{"time","level","msg",...fields}`) to `write`, by default
 * stderr, so stdout stays free and log collectors parse every line. Lines below `minLevel` are
 * dropped.
 */
export function jsonLogger(
  minLevel: Level = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const threshold = LEVELS.indexOf(minLevel);
  const log = (level: Level) => (msg: string, fields: LogFields = {}) => {
    if (LEVELS.indexOf(level) < threshold) return;
    const entries = Object.entries(fields).map(([key, value]) => [key, serializable(value)]);
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...Object.fromEntries(entries) }) + '\n');
  };
  return { debugEnabled: threshold === 0, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Parses a log level name (e.g. from MESHLINE_LOG_LEVEL); unknown or absent gives `info`. */
export function logLevel(name: string | undefined): Level {
  return (LEVELS as readonly string[]).includes(name ?? '') ? (name as Level) : 'info';
}

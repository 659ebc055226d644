// The local stack's watchdog: stops the stack's process groups (and removes its temporary data
// directory) when the process that started them dies without stopping them: SIGKILL, an OOM
// kill, or tsx, which SIGKILLs its child when a Ctrl-C is not acknowledged within 60 ms. An
// 'exit' handler cannot help in those cases; a separate process that notices its stdin close can.
//
// It runs in its own process group, so a Ctrl-C meant for the stack does not reach it. Its
// parent tells it, one line each, what to clean up: "+group <pgid>", "-group <pgid>",
// "+dir <path>", "-dir <path>". When stdin closes it cleans up whatever is still listed.
// Plain JavaScript, so it starts with bare `node` in a few milliseconds.
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

const groups = new Set();
const dirs = new Set();

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const space = line.indexOf(' ');
    const change = line[0];
    const kind = line.slice(1, space);
    const set = kind === 'group' ? groups : kind === 'dir' ? dirs : undefined;
    const value = kind === 'group' ? Number(line.slice(space + 1)) : line.slice(space + 1);
    if (set && change === '+') set.add(value);
    if (set && change === '-') set.delete(value);
  })
  .on('close', () => {
    cleanUp().finally(() => process.exit(0));
  });

async function cleanUp() {
  signalGroups('SIGTERM');
  // DynamoDB Local and osls stop within a second on SIGTERM; give them a little more.
  const deadline = Date.now() + 5_000;
  while ([...groups].some(groupExists) && Date.now() < deadline) await delay(100);
  signalGroups('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

function signalGroups(signal) {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }
}

function groupExists(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

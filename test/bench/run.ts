/**
 * `npm run bench -- <name>`: runs one benchmark (or all with no name) and prints its figures.
 * Benchmarks start what they need themselves, like the test suite, and never assert timings.
 */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  'thin-path': async () => (await import('./thin-path.js')).run(),
  api: async () => (await import('./api.js')).run(),
  relay: async () => (await import('./relay.js')).run(),
  compile: async () => (await import('./compile.js')).run(),
  propagation: async () => (await import('./propagation.js')).run(),
  telemetry: async () => (await import('./telemetry.js')).run(),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHMARKS);
for (const name of names) {
  const bench = BENCHMARKS[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  await bench();
}
process.exit(0);

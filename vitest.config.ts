import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` runs pure code with no emulator; `integration` (integration/ and e2e/)
 * gets one local stack, started on free ports by the global setup and stopped after.
 * `npm test` runs both; `npx vitest run --project unit` runs the fast half alone.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

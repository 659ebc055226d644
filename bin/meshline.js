#!/usr/bin/env node
// The meshline CLI. It runs from its TypeScript sources through tsx, as the local stack does.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

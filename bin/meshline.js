#!/usr/bin/env node
// The meshline CLI. It runs from its TypeScript sources through tsx, as the local stack does.
import { register } from 'tsx/esm/api';

// Node 20 is supported on purpose (see ARCHITECTURE.md); the SDK's notice would precede every output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

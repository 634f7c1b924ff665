#!/usr/bin/env node
// The engine ships as TypeScript source; tsx compiles it on load so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main/cli/main.ts');

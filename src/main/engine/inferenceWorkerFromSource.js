// Worker entry used when the engine runs from TypeScript source (CLI via tsx, tests, dev):
// worker threads do not inherit the parent's tsx loader, so register it here first.
// Bundled builds point the engine at the compiled inferenceWorker.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./inferenceWorker.ts');

/** Entry point of the `cmsc-upscale` command (bin/cmsc-upscale.js, `npm run cli`). */
import { EXIT_CANCELLED, runCli } from './runCli.ts';

const controller = new AbortController();
process.once('SIGINT', () => {
  // First Ctrl-C: stop after the current tile, remove partial output, print the summary.
  controller.abort(new Error('cancelled (Ctrl-C)'));
  process.once('SIGINT', () => process.exit(EXIT_CANCELLED));
});

process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr },
  controller.signal,
);

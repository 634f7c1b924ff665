/** Entry point of the `cmsc-upscale` command (bin/cmsc-upscale.js, `npm run cli`). */
import { EXIT_CANCELLED, runCli } from './runCli.ts';

const controller = new AbortController();
/** The second signal: the running photo stops at once (a worker's file goes back to the queue). */
const handBack = new AbortController();
const isWorker = process.argv[2] === 'worker';
// First Ctrl-C (or SIGTERM): the photo being upscaled finishes and is kept, then the job pauses
// and the summary prints; the same command resumes. A second one stops that photo at once (its
// finished rows are kept beside the output; the resume goes on from them). A third exits at
// once (the next run still resumes: the queue survives a kill). A worker finishes its current
// file on the first, hands it back on the second, and exits at the third.
// One listener for the whole run, counting presses: re-arming a `once` listener leaves a moment
// with none, and a signal landing then (a quick second Ctrl-C) killed the process unsummarised.
let interrupts = 0;
const interrupt = (): void => {
  interrupts += 1;
  if (interrupts === 1) controller.abort(new Error('paused (Ctrl-C)'));
  else if (interrupts === 2) handBack.abort(new Error('stopping now'));
  else process.exit(EXIT_CANCELLED);
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

try {
  process.exitCode = await runCli(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr },
    controller.signal,
    { handBack: handBack.signal },
  );
} catch (error) {
  // Whatever went wrong, one line, not a stack trace (CMSC_DEBUG=1 shows it).
  const detail = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `cmsc-upscale: ${process.env.CMSC_DEBUG && error instanceof Error ? error.stack : detail}\n`,
  );
  process.exitCode = 1;
}
// A worker's Redis connections may still be retrying a Redis that is gone: it is done.
if (isWorker) process.exit(process.exitCode);

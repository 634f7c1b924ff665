/** Entry point of the `cmsc-upscale` command (bin/cmsc-upscale.js, `npm run cli`). */
import { EXIT_CANCELLED, runCli } from './runCli.ts';

const controller = new AbortController();
const pause = (): void => {
  // First Ctrl-C (or SIGTERM): pause the job after removing the running photo's temporary
  // output, print the summary; the same command resumes. A second one exits at once (the
  // next run still resumes: the queue survives a kill).
  controller.abort(new Error('paused (Ctrl-C)'));
  process.once('SIGINT', () => process.exit(EXIT_CANCELLED));
  process.once('SIGTERM', () => process.exit(EXIT_CANCELLED));
};
process.once('SIGINT', pause);
process.once('SIGTERM', pause);

try {
  process.exitCode = await runCli(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr },
    controller.signal,
  );
} catch (error) {
  // Whatever went wrong, one line, not a stack trace (CMSC_DEBUG=1 shows it).
  const detail = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `cmsc-upscale: ${process.env.CMSC_DEBUG && error instanceof Error ? error.stack : detail}\n`,
  );
  process.exitCode = 1;
}

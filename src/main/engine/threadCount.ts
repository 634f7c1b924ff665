/**
 * How many inference threads run. Threads beyond the cores only take turns: ONNX Runtime's
 * pool spins while it waits, so `--threads 1000` on 2 cores started about 2,000 threads, ran
 * for minutes and took minutes to stop. Every session's count goes through here.
 */
import { availableParallelism } from 'node:os';

/** `requested` up to the cores as asked (0: ONNX Runtime picks one per core); more: the cores. */
export function boundThreads(requested: number, cores: number = availableParallelism()): number {
  return Math.min(requested, Math.max(1, cores));
}

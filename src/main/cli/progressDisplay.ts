/**
 * What the CLI prints while it works: a redrawn progress bar with ETA on a terminal, plain
 * lines (one per finished file) otherwise, so logs stay readable.
 */
import type { Writable } from 'node:stream';

export interface ProgressDisplay {
  /** Tile progress of the current file (index is 0-based among `total` files). */
  tile(
    fileIndex: number,
    fileName: string,
    tilesDone: number,
    tilesTotal: number,
    etaMs: number | null,
  ): void;
  /** A finished, skipped or failed file: one permanent line. */
  line(text: string): void;
  finish(): void;
}

export function createProgressDisplay(
  stream: Writable & { isTTY?: boolean; columns?: number },
  totalFiles: number,
): ProgressDisplay {
  return stream.isTTY ? new TerminalProgress(stream, totalFiles) : new PlainProgress(stream);
}

class PlainProgress implements ProgressDisplay {
  constructor(private readonly stream: Writable) {}
  tile(): void {}
  line(text: string): void {
    this.stream.write(`${text}\n`);
  }
  finish(): void {}
}

const BAR_WIDTH = 24;

class TerminalProgress implements ProgressDisplay {
  private drawn = false;
  constructor(
    private readonly stream: Writable & { columns?: number },
    private readonly totalFiles: number,
  ) {}

  tile(
    fileIndex: number,
    fileName: string,
    tilesDone: number,
    tilesTotal: number,
    etaMs: number | null,
  ): void {
    const fraction =
      (fileIndex + tilesDone / Math.max(1, tilesTotal)) / Math.max(1, this.totalFiles);
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    const eta = etaMs === null ? '' : ` ETA ${formatDuration(etaMs)}`;
    const text = `${bar} ${fileIndex + 1}/${this.totalFiles} ${fileName} tile ${tilesDone}/${tilesTotal}${eta}`;
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r\x1b[2K${text.slice(0, width)}`);
    this.drawn = true;
  }

  line(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  finish(): void {
    this.clear();
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  return hours > 0
    ? `${hours}:${String(minutes % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`
    : `${minutes}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * What a running sync is doing, for status.json's `running` (the page's progress bar, `status`,
 * `/metrics`): the phase, the release, files and bytes done of the downloads, the rate over the
 * last seconds and the time left at that rate. Written through `write` at most every interval; the
 * run's own record at its end removes it.
 */
import type { RunningStatus, SyncPhase } from '../status/status-file.js';

export interface ProgressOptions {
  /** Writes `running` into status.json (the run's own record at its end removes it). */
  write: (running: RunningStatus) => Promise<void>;
  by: RunningStatus['by'];
  now?: () => Date;
  /** How often it is written while something changes (default 2 s). */
  intervalMs?: number;
  /** Told when a write fails; the run goes on. */
  onError?: (error: Error) => void;
}

/** The rate is measured over this window, so a stall shows as a falling rate, not a frozen one. */
const RATE_WINDOW_MS = 10_000;

export class Progress {
  readonly #options: Required<Omit<ProgressOptions, 'onError'>> & Pick<ProgressOptions, 'onError'>;
  #state: RunningStatus;
  #samples: { at: number; bytes: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;
  #inFlight = false;

  constructor(options: ProgressOptions) {
    this.#options = { now: () => new Date(), intervalMs: 2000, ...options };
    const now = this.#options.now().toISOString();
    this.#state = {
      phase: 'indexes',
      startedAt: now,
      updatedAt: now,
      filesDone: 0,
      filesTotal: 0,
      bytesDone: 0,
      bytesTotal: 0,
      bytesPerSecond: 0,
      by: options.by,
      pid: process.pid,
    };
  }

  /** Writes the first state at once, then keeps writing what changed, every interval. */
  start(): void {
    this.#flush();
    this.#timer = setInterval(() => {
      if (this.#dirty) this.#flush();
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** A release begins: its sets, and where it stands among the run's releases. */
  release(release: string, sets: string[], index: number, releases: number): void {
    Object.assign(this.#state, { release, sets, releaseIndex: index, releases });
    this.#resetDownloads();
    this.phase('indexes');
  }

  phase(phase: SyncPhase): void {
    this.#state.phase = phase;
    this.#dirty = true;
  }

  /**
   * Downloads added to this release's (the images start while the indexes come in, the packages
   * once planned): how many files, and their bytes as the indexes give them.
   */
  downloads(files: number, bytes: number): void {
    this.#state.filesTotal += files;
    this.#state.bytesTotal += bytes;
    this.#sample();
    this.#dirty = true;
  }

  /** Bytes received (negative: an attempt failed and starts over). */
  bytes(delta: number): void {
    this.#state.bytesDone = Math.max(0, this.#state.bytesDone + delta);
    this.#dirty = true;
  }

  /** A download ended, fetched or failed. */
  fileDone(): void {
    this.#state.filesDone++;
    this.#dirty = true;
  }

  /** The state as it stands, rate and time left measured now (for the log's progress lines). */
  snapshot(): Readonly<RunningStatus> {
    this.#sample();
    return { ...this.#state };
  }

  /** No more writes; the last one in flight has ended when this resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#writing;
  }

  #resetDownloads(): void {
    Object.assign(this.#state, {
      filesDone: 0,
      filesTotal: 0,
      bytesDone: 0,
      bytesTotal: 0,
      bytesPerSecond: 0,
    });
    delete this.#state.etaSeconds;
    this.#samples = [];
  }

  #sample(): void {
    const at = this.#options.now().getTime();
    this.#samples.push({ at, bytes: this.#state.bytesDone });
    while (this.#samples.length > 2 && at - (this.#samples[1] as { at: number }).at > RATE_WINDOW_MS) {
      this.#samples.shift();
    }
    const first = this.#samples[0] as { at: number; bytes: number };
    const seconds = (at - first.at) / 1000;
    const rate = seconds > 0 ? Math.max(0, (this.#state.bytesDone - first.bytes) / seconds) : 0;
    this.#state.bytesPerSecond = Math.round(rate);
    const left = Math.max(0, this.#state.bytesTotal - this.#state.bytesDone);
    if (this.#state.phase === 'downloading' && rate > 0) this.#state.etaSeconds = Math.ceil(left / rate);
    else delete this.#state.etaSeconds;
  }

  #flush(): void {
    if (this.#stopped) return;
    // One write at a time: a slow disk skips intervals rather than piling writes up.
    if (this.#inFlight) {
      this.#dirty = true;
      return;
    }
    this.#dirty = false;
    this.#sample();
    this.#state.updatedAt = this.#options.now().toISOString();
    const snapshot = { ...this.#state, ...(this.#state.sets && { sets: [...this.#state.sets] }) };
    this.#inFlight = true;
    this.#writing = this.#options
      .write(snapshot)
      .catch((error: Error) => this.#options.onError?.(error))
      .finally(() => {
        this.#inFlight = false;
      });
  }
}

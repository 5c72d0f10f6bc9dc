/**
 * When an attempt is too slow to go on with: silence (no headers, or no byte, for `timeoutMs`), or
 * a body that flows below the rate floor. The messages name the settings a user would change.
 */

export interface WatchdogOptions {
  /** The silence allowed, and the window the rate floor is measured over. */
  timeoutMs: number;
  /** Bytes per second a body must keep up over each window; 0 for no floor. */
  minBytesPerSecond: number;
  /** Called once, with what was too slow. */
  onTimeout: (reason: string) => void;
}

/** The settings as a user knows them (the environment), so that a message says what to change. */
const TIMEOUT_SETTING = 'DOWNLOAD_TIMEOUT';
const MIN_RATE_SETTING = 'DOWNLOAD_MIN_RATE';

export class Watchdog {
  readonly #opts: WatchdogOptions;
  readonly #silence: NodeJS.Timeout;
  #window: NodeJS.Timeout | undefined;
  #headers = false;
  #received = 0;
  #receivedBeforeWindow = 0;
  #over = false;

  /** Starts watching for silence before the headers, right away. */
  constructor(opts: WatchdogOptions) {
    this.#opts = opts;
    this.#silence = setTimeout(() => this.#silent(), opts.timeoutMs);
  }

  /** The headers are in: from now on the body's bytes are counted, and the floor applies. */
  headers(): void {
    if (this.#over) return;
    this.#headers = true;
    this.#silence.refresh();
    // Tumbling windows: each full window of body must bring its share of bytes.
    if (this.#opts.minBytesPerSecond > 0)
      this.#window = setInterval(() => this.#measure(), this.#opts.timeoutMs);
  }

  data(bytes: number): void {
    this.#received += bytes;
    this.#silence.refresh();
  }

  stop(): void {
    this.#over = true;
    clearTimeout(this.#silence);
    clearInterval(this.#window);
  }

  #silent(): void {
    const window = seconds(this.#opts.timeoutMs);
    this.#fire(
      this.#headers
        ? `no data for ${window} after ${this.#received} bytes (${TIMEOUT_SETTING})`
        : `no response within ${window} (${TIMEOUT_SETTING})`,
    );
  }

  #measure(): void {
    const { timeoutMs, minBytesPerSecond } = this.#opts;
    const arrived = this.#received - this.#receivedBeforeWindow;
    this.#receivedBeforeWindow = this.#received;
    if (arrived >= (minBytesPerSecond * timeoutMs) / 1000) return;
    const window = seconds(timeoutMs);
    this.#fire(
      `slower than ${minBytesPerSecond} B/s for ${window} (${arrived} bytes in the last ${window}; ${MIN_RATE_SETTING})`,
    );
  }

  #fire(reason: string): void {
    if (this.#over) return;
    this.stop();
    this.#opts.onTimeout(reason);
  }
}

/** 300 → "0.3 s", 30000 → "30 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * How many bytes the indexes of one run may unpack to, all together. Each index has its own cap
 * (MAX_INDEX_BYTES), but a run holds every feed's records until it has planned, so a signed upstream
 * with thirty huge indexes would otherwise take gigabytes: the unpacked bytes of every index the run
 * keeps count against one budget, and an index that would cross it is refused.
 */
import { UntrustedInputError } from '../errors.js';
import { MAX_INDEX_BYTES } from '../formats/opkg/packages-index.js';

/** Several times what the largest real configurations unpack to (a few MiB per feed). */
export const RUN_INDEX_BYTES = 256 * 1024 * 1024;

export class IndexMemory {
  #used = 0;

  constructor(readonly totalBytes = RUN_INDEX_BYTES) {}

  /** The most the next index may unpack to: its own cap, or what is left of the run's. */
  get limit(): number {
    return Math.min(MAX_INDEX_BYTES, this.totalBytes - this.#used);
  }

  /** Whether the budget, not the index's own cap, is what `limit` is now. */
  get tight(): boolean {
    return this.totalBytes - this.#used < MAX_INDEX_BYTES;
  }

  /** Counts an index the run keeps; refuses one that would cross the budget. */
  keep(bytes: number, what: string): void {
    if (this.#used + bytes > this.totalBytes) throw this.refusal(what);
    this.#used += bytes;
  }

  refusal(what: string): UntrustedInputError {
    return new UntrustedInputError(
      `${what}: the indexes of this run would unpack to more than ${this.totalBytes} bytes together`,
    );
  }
}

/**
 * A feed's records, which a run reads twice: to plan, and when it publishes (the package lists and
 * the changes). Through the downloads in between, nothing holds them: the plan has made its tasks,
 * and the publish reads them again from the feed's index in the pool, the bytes that were checked
 * when they came in. At real size that is 11,000 records, some 3 MB the downloads need not carry;
 * and the records planned with leave out what only people read (`RecordFields`).
 */
import type { PackageRecord } from '../feeds/types.js';

export class FeedRecords {
  #records: PackageRecord[] | undefined;
  #parse: (() => PackageRecord[]) | undefined;
  readonly #readAll: () => Promise<PackageRecord[]>;

  /**
   * `first`: the records to plan with, or how to parse them when they are first asked for (the
   * index's bytes, which that holds, go then); `readAll` reads every field from the pool.
   */
  constructor(first: PackageRecord[] | (() => PackageRecord[]), readAll: () => Promise<PackageRecord[]>) {
    if (typeof first === 'function') this.#parse = first;
    else this.#records = first;
    this.#readAll = readAll;
  }

  /** The records to plan with: parsed when first asked for. */
  get list(): PackageRecord[] {
    if (this.#records === undefined) {
      if (this.#parse === undefined)
        throw new Error("a feed's records were let go before the plan read them");
      this.#records = this.#parse();
      this.#parse = undefined;
    }
    return this.#records;
  }

  /** The plan has what it needs of them: they go. */
  letGo(): void {
    this.#records = undefined;
    this.#parse = undefined;
  }

  /** Every field of every record, read from the pool: for the publish, held by the caller. */
  readAll(): Promise<PackageRecord[]> {
    return this.#readAll();
  }
}

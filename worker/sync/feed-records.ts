/**
 * A feed's records, which a run reads twice: to plan, and when it publishes (the package lists and
 * the changes). The plan holds them all; once it has made its tasks they go, and the publish reads
 * them again a record at a time from the feed's index in the pool, the bytes that were checked when
 * they came in. At real size that is 11,000 records, some 4 MB, that neither the downloads nor the
 * publish carry; and the records planned with leave out what only people read (`RecordFields`).
 */
import type { PackageRecord, RecordFields } from '../feeds/types.js';

export class FeedRecords {
  #records: PackageRecord[] | undefined;
  #parse: (() => PackageRecord[]) | undefined;
  readonly #read: (fields: RecordFields) => AsyncIterable<PackageRecord>;

  /**
   * `first`: the records to plan with, or how to parse them when they are first asked for (the
   * index's bytes, which that holds, go then); `read` reads them from the pool, one at a time.
   */
  constructor(
    first: PackageRecord[] | (() => PackageRecord[]),
    read: (fields: RecordFields) => AsyncIterable<PackageRecord>,
  ) {
    if (typeof first === 'function') this.#parse = first;
    else this.#records = first;
    this.#read = read;
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

  /** The records read again from the pool, one at a time, with `fields`: for the publish. */
  read(fields: RecordFields): AsyncIterable<PackageRecord> {
    return this.#read(fields);
  }
}

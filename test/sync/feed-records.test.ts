import { expect } from 'chai';
import { NO_DEPENDS } from '../../worker/feeds/depends.js';
import type { PackageRecord } from '../../worker/feeds/types.js';
import { FeedRecords } from '../../worker/sync/feed-records.js';

const record = (name: string, description?: string): PackageRecord => ({
  name,
  version: '1.0-r1',
  filename: `${name}_1.0-r1_all.ipk`,
  size: 10,
  sha256: 'ab'.repeat(32),
  depends: NO_DEPENDS,
  provides: [],
  ...(description && { description }),
});

describe('sync/feed-records', () => {
  it('parses the records to plan with once, when first asked for', () => {
    let parses = 0;
    const records = new FeedRecords(
      () => {
        parses++;
        return [record('a')];
      },
      async function* () {},
    );
    expect(parses).to.equal(0);
    expect(records.list.map((r) => r.name)).to.deep.equal(['a']);
    expect(records.list).to.equal(records.list);
    expect(parses).to.equal(1);
  });

  it('holds nothing once let go, and reads the records again, with the fields asked for', async () => {
    const planned = [record('a')];
    const asked: string[] = [];
    const records = new FeedRecords(planned, async function* (fields) {
      asked.push(fields);
      yield record('a', fields === 'all' ? 'the a package' : undefined);
    });
    expect(records.list).to.equal(planned);
    records.letGo();
    expect(() => records.list).to.throw(/let go before the plan read them/);
    const all: PackageRecord[] = [];
    for await (const r of records.read('all')) all.push(r);
    expect(all.map((r) => r.description)).to.deep.equal(['the a package']);
    expect(asked).to.deep.equal(['all']);
  });
});

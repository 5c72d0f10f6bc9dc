import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MirrorDir } from '../../worker/publish/mirror-dir.js';
import { summarize, tallyIn } from '../../worker/publish/served.js';
import {
  emptyState,
  type ReleaseState,
  readState,
  servedOf,
  writeState,
} from '../../worker/publish/state.js';

describe('the release state on disk', () => {
  let root: string;
  let dir: MirrorDir;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'state-'));
    dir = new MirrorDir(root);
    await dir.prepare();
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it('reads back every served file of a big state, written in pieces', async () => {
    const state: ReleaseState = {
      ...emptyState('24.10.4'),
      generation: 'g1',
      lastSuccessAt: '2026-12-07T00:00:00Z',
    };
    for (let i = 0; i < 2500; i++) {
      state.files[`packages/mipsel_24kc/base/p-${i}_1.0-r1_mipsel_24kc.ipk`] = {
        sha256: i.toString(16).padStart(64, '0'),
        size: i,
      };
    }
    // Keys an object literal would mishandle: one that looks like an index, one named like the prototype.
    state.files['1234'] = { sha256: 'a'.repeat(64), size: 1 };
    Object.defineProperty(state.files, '__proto__', {
      value: { sha256: 'b'.repeat(64), size: 2 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    state.validators['targets/ramips/mt7621/packages/Packages.sig'] = {
      etag: '"abc"',
      sha256: 'c'.repeat(64),
      size: 151,
    };
    await writeState(dir, state);

    const back = await readState(dir, '24.10.4');
    expect(Object.keys(back.files)).to.have.length(2502);
    expect(back.files['packages/mipsel_24kc/base/p-2499_1.0-r1_mipsel_24kc.ipk']).to.deep.equal({
      sha256: (2499).toString(16).padStart(64, '0'),
      size: 2499,
    });
    expect(Object.hasOwn(back.files, '__proto__')).to.equal(true);
    expect(back.files['1234']?.size).to.equal(1);
    expect(back.validators).to.deep.equal(state.validators);
    expect(back.generation).to.equal('g1');
    // A hundred files a line: greppable, and no line is the whole state.
    const text = await fs.readFile(path.join(root, '.mirror', 'state-24.10.4.json'), 'utf8');
    expect(text.split('\n').length).to.be.greaterThan(6);
    expect(Math.max(...text.split('\n').map((line) => line.length))).to.be.lessThan(text.length / 2);
  });

  it('writes the files of a publish from its manifest as they are, a Map not copied into an object', async () => {
    const manifest = new Map([
      ['packages/mipsel_24kc/base/a_1-r1_mipsel_24kc.ipk', { sha256: 'd'.repeat(64), size: 3 }],
      ['__proto__', { sha256: 'e'.repeat(64), size: 4 }],
      ...Array.from({ length: 250 }, (_, i): [string, { sha256: string; size: number }] => [
        `packages/mipsel_24kc/luci/l-${i}.ipk`,
        { sha256: i.toString(16).padStart(64, '0'), size: i },
      ]),
    ]);
    await writeState(dir, { ...emptyState('24.10.4'), files: manifest });

    const back = await readState(dir, '24.10.4');
    expect(new Map(Object.entries(back.files))).to.deep.equal(manifest);
  });

  it('counts what is served from the files when the state keeps no counts, or counts edited into nonsense', async () => {
    const files = {
      'packages/x86_64/base/a_1_x86_64.ipk': { sha256: 'a'.repeat(64), size: 10 },
      'packages/x86_64/base/Packages': { sha256: 'b'.repeat(64), size: 5 },
    };
    const counted = summarize(Object.entries(files), '.ipk');
    await writeState(dir, { ...emptyState('24.10.4'), files, served: counted });
    expect(servedOf(await readState(dir, '24.10.4'), '.ipk')).to.deep.equal(
      JSON.parse(JSON.stringify(counted)),
    );

    const file = path.join(root, '.mirror', 'state-24.10.4.json');
    for (const edited of [undefined, 'all of it', { dirs: null, loose: {} }, { dirs: {} }]) {
      const state = JSON.parse(await fs.readFile(file, 'utf8'));
      state.served = edited;
      await fs.writeFile(file, JSON.stringify(state));
      const back = servedOf(await readState(dir, '24.10.4'), '.ipk');
      expect(tallyIn(back, 'packages/x86_64/base'), JSON.stringify(edited)).to.deep.equal({
        files: 2,
        bytes: 15,
        packages: 1,
        packageBytes: 10,
      });
    }
  });

  it('writes a state with no files as valid JSON', async () => {
    await writeState(dir, emptyState('25.12.0'));
    expect(await readState(dir, '25.12.0')).to.deep.equal(emptyState('25.12.0'));
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MirrorDir } from '../../worker/publish/mirror-dir.js';
import { servedTotals, summarize, tallyIn } from '../../worker/publish/served.js';
import {
  emptyState,
  type ReleaseState,
  readState,
  readSyncState,
  servedFiles,
  writeState,
} from '../../worker/publish/state.js';
import type { ServedFile } from '../../worker/publish/types.js';

describe('the release state on disk', () => {
  let root: string;
  let dir: MirrorDir;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'state-'));
    dir = new MirrorDir(root);
    await dir.prepare();
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  const stateFile = () => path.join(root, '.mirror', 'state-24.10.4.json');
  const manifests = () => path.join(root, '.mirror', 'manifests', '24.10.4');

  it('reads back every served file of a big state, written in pieces beside it', async () => {
    const files: Record<string, ServedFile> = {};
    for (let i = 0; i < 2500; i++) {
      files[`packages/mipsel_24kc/base/p-${i}_1.0-r1_mipsel_24kc.ipk`] = {
        sha256: i.toString(16).padStart(64, '0'),
        size: i,
      };
    }
    // Keys an object literal would mishandle: one that looks like an index, one named like the prototype.
    files['1234'] = { sha256: 'a'.repeat(64), size: 1 };
    Object.defineProperty(files, '__proto__', {
      value: { sha256: 'b'.repeat(64), size: 2 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const state: ReleaseState = {
      ...emptyState('24.10.4'),
      generation: 'g1',
      lastSuccessAt: '2026-12-07T00:00:00Z',
      served: summarize(Object.entries(files), '.ipk'),
    };
    state.validators['targets/ramips/mt7621/packages/Packages.sig'] = {
      etag: '"abc"',
      sha256: 'c'.repeat(64),
      size: 151,
    };
    await writeState(dir, { ...state, files });

    const back = await readState(dir, '24.10.4');
    expect(back.files, 'the state itself holds no files').to.equal(undefined);
    const served = await servedFiles(dir, back);
    expect(served.size).to.equal(2502);
    expect(served.get('packages/mipsel_24kc/base/p-2499_1.0-r1_mipsel_24kc.ipk')).to.deep.equal({
      sha256: (2499).toString(16).padStart(64, '0'),
      size: 2499,
    });
    expect(served.get('__proto__')?.size).to.equal(2);
    expect(served.get('1234')?.size).to.equal(1);
    expect(back.validators).to.deep.equal(state.validators);
    expect(back.generation).to.equal('g1');
    expect(servedTotals(back.served)).to.deep.equal({
      files: 2502,
      bytes: (2499 * 2500) / 2 + 3,
      packages: 2500,
    });
    // The state is a few lines; the files a hundred a line: greppable, and no line is all of them.
    expect((await fs.stat(stateFile())).size).to.be.lessThan(2000);
    const text = await fs.readFile(path.join(manifests(), 'g1.json'), 'utf8');
    expect(text.split('\n').length).to.be.greaterThan(25);
    expect(Math.max(...text.split('\n').map((line) => line.length))).to.be.lessThan(text.length / 10);
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
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g1', files: manifest });

    const back = await readState(dir, '24.10.4');
    expect(await servedFiles(dir, back)).to.deep.equal(manifest);
  });

  it("writes a generation's files once; a state of the next generation leaves only its own", async () => {
    const one = new Map([['packages/x86_64/base/a_1_x86_64.ipk', { sha256: 'a'.repeat(64), size: 1 }]]);
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g1', files: one });
    const written = (await fs.stat(path.join(manifests(), 'g1.json'))).mtimeMs;
    // A quiet night: the same generation, renewed; its files are on disk, so none are asked for.
    let asked = 0;
    const files = async () => {
      asked++;
      return one;
    };
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g1', lastSuccessAt: 'then', files });
    expect(asked).to.equal(0);
    expect((await fs.stat(path.join(manifests(), 'g1.json'))).mtimeMs).to.equal(written);
    expect((await readState(dir, '24.10.4')).lastSuccessAt).to.equal('then');

    const two = new Map([['packages/x86_64/base/a_2_x86_64.ipk', { sha256: 'b'.repeat(64), size: 2 }]]);
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g2', files: two });
    expect(await fs.readdir(manifests())).to.deep.equal(['g2.json']);
    expect(await servedFiles(dir, await readState(dir, '24.10.4'))).to.deep.equal(two);
  });

  it('reads a state written before the files moved beside it, and moves them with its next write', async () => {
    const files = {
      'packages/x86_64/base/a_1_x86_64.ipk': { sha256: 'a'.repeat(64), size: 10 },
      'packages/x86_64/base/Packages': { sha256: 'b'.repeat(64), size: 5 },
    };
    await fs.writeFile(
      stateFile(),
      JSON.stringify({
        schema: 1,
        release: '24.10.4',
        generation: 'g1',
        files,
        validators: {},
        feeds: {},
        dropped: {},
      }),
    );
    const old = await readState(dir, '24.10.4');
    expect(tallyIn(old.served, 'packages/x86_64/base')?.packages, 'counted from its files').to.equal(1);
    expect(await servedFiles(dir, old)).to.deep.equal(new Map(Object.entries(files)));

    const { files: inside, ...head } = old;
    await writeState(dir, { ...head, lastSuccessAt: 'now', files: inside });
    const moved = await readState(dir, '24.10.4');
    expect(moved.files).to.equal(undefined);
    expect(await servedFiles(dir, moved)).to.deep.equal(new Map(Object.entries(files)));
    expect(moved.served).to.deep.equal(JSON.parse(JSON.stringify(old.served)));
  });

  it("a state whose generation's files are gone is no state to sync from; files of another generation do not read", async () => {
    const files = new Map([['packages/x86_64/base/a_1_x86_64.ipk', { sha256: 'a'.repeat(64), size: 10 }]]);
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g1', files });
    const manifest = path.join(manifests(), 'g1.json');
    const text = await fs.readFile(manifest, 'utf8');

    await fs.rm(manifest);
    expect(await readSyncState(dir, '24.10.4'), 'a sync starts afresh').to.deep.equal(emptyState('24.10.4'));
    expect((await readState(dir, '24.10.4')).generation, 'a reader of the pin sees the state').to.equal('g1');

    // Put back under the name of another generation's: not its files.
    await fs.writeFile(manifest, text.replace('"g1"', '"g0"'));
    const state = await readState(dir, '24.10.4');
    const other = await servedFiles(dir, state).catch((e: Error) => e);
    expect((other as Error).message).to.match(/does not list the files of generation g1/);
    await fs.writeFile(manifest, '{"cut short');
    const error = await servedFiles(dir, state).catch((e: Error) => e);
    expect((error as Error).message)
      .to.contain('manifests/24.10.4/g1.json')
      .and.contain('remove .mirror/state-24.10.4.json');
  });

  it("counts what is served from the files when the state's counts were edited into nonsense", async () => {
    const files = {
      'packages/x86_64/base/a_1_x86_64.ipk': { sha256: 'a'.repeat(64), size: 10 },
      'packages/x86_64/base/Packages': { sha256: 'b'.repeat(64), size: 5 },
    };
    const counted = summarize(Object.entries(files), '.ipk');
    await writeState(dir, { ...emptyState('24.10.4'), generation: 'g1', files, served: counted });
    expect((await readState(dir, '24.10.4')).served).to.deep.equal(JSON.parse(JSON.stringify(counted)));

    for (const edited of [undefined, 'all of it', { dirs: null, loose: {} }, { dirs: {} }]) {
      const state = JSON.parse(await fs.readFile(stateFile(), 'utf8'));
      state.served = edited;
      await fs.writeFile(stateFile(), JSON.stringify(state));
      const back = (await readState(dir, '24.10.4')).served;
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

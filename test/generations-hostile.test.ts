/**
 * Attacks on rollback (issue #12): a rollback killed between its steps, corrupted records in
 * `.mirror/kept/`, and what the next sync and the served tree make of them. The real command line
 * and the real sync; a kill -9 is reproduced by doing rollback's own steps up to the kill.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { copyGeneration, currentGeneration } from '../worker/publish/generation.js';
import { keptGenerations, keptWithStates, recordGeneration } from '../worker/publish/kept.js';
import { acquireLock } from '../worker/publish/lock.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { readState, writeState } from '../worker/publish/state.js';
import { listFiles } from './helpers/files.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('attack: rollback', function () {
  this.timeout(180_000);
  let h: Harness;
  let dir: MirrorDir;
  const release = '24.10.4';

  beforeEach(async () => {
    h = await createHarness({ env: { KEEP_GENERATIONS: '3' } });
    dir = new MirrorDir(h.mirrorDir);
    expect((await h.sync()).exitCode).to.equal(0);
    h.moveTo(1);
    expect((await h.sync()).exitCode).to.equal(0);
  });
  afterEach(async () => {
    await h?.close();
  });

  const served = async () => (await currentGeneration(dir, release)) as string;

  it('killed after writing the pinned state but before the switch: the next sync finishes the rollback', async () => {
    const [newer, older] = (await keptGenerations(dir, release)).map((g) => g.id) as [string, string];
    expect(await served()).to.equal(newer);
    // rollback's own steps, up to a kill -9 just before its rename.
    const target = (await keptWithStates(dir, release)).find((g) => g.id === older);
    if (!target) throw new Error('no older generation');
    const now = new Date();
    const { id } = await copyGeneration(dir, older, newer, now);
    const state = { ...target.state, generation: id, pinned: id };
    await recordGeneration(dir, { ...target, id, publishedAt: now.toISOString(), rollbackOf: older, state });
    await writeState(dir, state);
    // The operator sees "pinned" and the old tree still served; the next sync must not leave it so.
    const run = await h.sync();
    expect(run.exitCode).to.equal(0);
    expect(await served(), 'the tree served is the one the state is pinned to').to.equal(id);
    expect((await readState(dir, release)).pinned).to.equal(id);
    const status = JSON.parse(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8'));
    expect(status.generations[release]).to.include({ served: id, pinned: id });
  });

  it('a kept record whose state names another release is no generation to go back to', async () => {
    const [, older] = (await keptGenerations(dir, release)).map((g) => g.id) as [string, string];
    const stateFile = path.join(h.mirrorDir, '.mirror/kept', `${older}.state.json`);
    const state = JSON.parse(await fs.readFile(stateFile, 'utf8'));
    // Another release (or a climbing name): rollback would write that one's state and pin it,
    // and switch this one unpinned.
    state.release = '23.05.5';
    await fs.writeFile(stateFile, JSON.stringify(state));
    const before = await served();
    const outside = path.dirname(h.mirrorDir);
    const beforeFiles = await listFiles(outside);
    const back = await runCli(['rollback', older], h.env);
    expect(back.code, back.stdout).to.equal(2);
    expect(back.stderr).to.match(new RegExp(`rollback: 24\\.10\\.4 has no kept generation ${older}`));
    expect(await served()).to.equal(before);
    // Nothing written anywhere (a state file named after the record's release), the state untouched.
    const afterFiles = await listFiles(outside);
    expect(afterFiles.filter((f) => !beforeFiles.includes(f) && !f.endsWith('.lock'))).to.deep.equal([]);
    expect((await readState(dir, release)).pinned).to.equal(undefined);
    expect(afterFiles.some((f) => f.endsWith('state-23.05.5.json'))).to.equal(false);
  });

  it('during a sync (its lock held) rollback changes nothing and says who holds the mirror', async () => {
    const before = await served();
    const lock = await acquireLock(dir.lockFile);
    try {
      const back = await runCli(['rollback'], h.env);
      expect(back.code).to.not.equal(0);
      expect(back.stderr).to.match(/lock|busy|sync/i);
      expect(back.stderr).not.to.match(/^\s+at /m);
    } finally {
      await lock.release();
    }
    expect(await served()).to.equal(before);
    expect((await readState(dir, release)).pinned).to.equal(undefined);
    expect((await fs.readdir(path.join(h.mirrorDir, '.mirror/generations'))).length).to.equal(2);
  });
});

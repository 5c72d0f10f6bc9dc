/**
 * A full disk: the run fails and says so where it can, the served tree stays, and the lock is never
 * left behind, so the next run (once there is space) goes ahead at once. On a real, small tmpfs where
 * this machine lets the tests mount one; the lock's own release is also checked without one.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import { readStatus } from '../worker/status/status-file.js';
import { exists } from './helpers/files.js';
import { capturingLogger } from './helpers/log-capture.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

const PAGE = 4096;

/** Fills the file system of `dir` until `leave` bytes are left (rounded to pages); returns the filler. */
async function fill(dir: string, leave: number): Promise<string> {
  const filler = path.join(dir, 'filler');
  const handle = await fs.open(filler, 'w');
  const chunk = Buffer.alloc(64 * PAGE, 1);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  try {
    for (;;) await handle.write(chunk.subarray(0, PAGE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  const { size } = await handle.stat();
  await handle.truncate(Math.max(0, Math.floor(size / PAGE) * PAGE - Math.ceil(leave / PAGE) * PAGE));
  await handle.close();
  return filler;
}

describe('a full disk', function () {
  this.timeout(60_000);
  let h: Harness;
  let mount: string | undefined;

  before(function () {
    mount = path.join(os.tmpdir(), `openwrt-mirror-full-disk-${process.pid}`);
    try {
      execFileSync('mkdir', ['-p', mount]);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      mount = undefined;
      // Only the tmpfs cases need it; the lock is still checked below without one.
      this.skip();
    }
  });

  after(() => {
    if (mount) execFileSync('umount', [mount]);
  });

  afterEach(async () => {
    await h?.close();
    if (mount)
      for (const entry of await fs.readdir(mount)) await fs.rm(path.join(mount, entry), { recursive: true });
  });

  const onTmpfs = async () => {
    h = await createHarness();
    return { ...h.env, MIRROR_DIR: path.join(mount as string, 'mirror') };
  };

  it('a run that cannot even record its failure releases the lock; the next run goes ahead', async () => {
    const env = await onTmpfs();
    expect((await h.sync(env)).exitCode).to.equal(0);
    const served = await fs.readlink(path.join(env.MIRROR_DIR, h.tree.releaseDir));
    h.moveTo(1);
    // One page left: the lock fits, the downloads and status.json do not.
    const filler = await fill(mount as string, PAGE);
    const { logger, lines } = capturingLogger();
    const failed = await h.sync(env, { logger });
    expect(failed.exitCode).to.equal(1);
    expect(lines().some((l) => /could not record this run in status\.json: .*ENOSPC/.test(l.message))).to.be
      .true;
    expect(await exists(path.join(env.MIRROR_DIR, '.mirror/lock'))).to.be.false;
    expect(await fs.readlink(path.join(env.MIRROR_DIR, h.tree.releaseDir))).to.equal(served);

    await fs.rm(filler);
    const next = await h.sync(env);
    expect(next.report.failures, JSON.stringify(next.report.failures)).to.deep.equal([]);
    expect(next.exitCode).to.equal(0);
    expect((await verifyMirror(h.config(env))).problems).to.deep.equal([]);
  });

  it('with no byte free the lock is not created at all, and the next run does not wait for it', async () => {
    const env = await onTmpfs();
    expect((await h.sync(env)).exitCode).to.equal(0);
    const filler = await fill(mount as string, 0);
    const error = await h.sync(env).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error)?.message).to.match(/cannot write the lock file .*ENOSPC/);
    expect(await exists(path.join(env.MIRROR_DIR, '.mirror/lock'))).to.be.false;
    await fs.rm(filler);
    expect((await h.sync(env)).exitCode).to.equal(0);
  });
});

describe('a run that cannot record its result', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('logs that it could not, releases the lock, and the next run records normally', async () => {
    h = await createHarness();
    h.upstream.fault({ match: /profiles\.json$/, kind: '500' });
    // status.json cannot be replaced while a directory stands in its place.
    await fs.mkdir(path.join(h.mirrorDir, 'status.json'), { recursive: true });
    const { logger, lines } = capturingLogger();
    const failed = await h.sync({}, { logger });
    expect(failed.exitCode).to.equal(1);
    expect(lines().some((l) => l.message.startsWith('could not record this run in status.json'))).to.be.true;
    expect(await exists(path.join(h.mirrorDir, '.mirror/lock'))).to.be.false;
    await fs.rm(path.join(h.mirrorDir, 'status.json'), { recursive: true });
    h.upstream.clearFaults();
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await readStatus(h.mirrorDir))?.lastRun?.result).to.equal('success');
  });
});

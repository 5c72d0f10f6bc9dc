import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { acquireLock, MirrorBusyError } from '../worker/publish/lock.js';

describe('mirror lock', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-lock-'));
    file = path.join(dir, 'lock');
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const refusal = async (): Promise<unknown> =>
    acquireLock(file).then(
      () => undefined,
      (error: unknown) => error,
    );

  it('refuses a second sync while the first holds the lock, and allows one after release', async () => {
    const lock = await acquireLock(file);
    expect(await refusal()).to.be.instanceOf(MirrorBusyError);
    await lock.release();
    await (await acquireLock(file)).release();
  });

  it('takes over at once a lock whose holder on this host is dead', async () => {
    const dead = 2 ** 22 + 12345; // above Linux's pid_max default, so never a live process
    await fs.writeFile(file, JSON.stringify({ pid: dead, host: os.hostname(), started: 'x', since: 'x' }));
    const lock = await acquireLock(file);
    expect(JSON.parse(await fs.readFile(file, 'utf8')).pid).to.equal(process.pid);
    await lock.release();
  });

  it('leaves a fresh lock of another host alone, and takes it over once it is stale', async () => {
    await fs.writeFile(file, JSON.stringify({ pid: 1, host: 'another-container', started: 'x', since: 'x' }));
    expect(await refusal()).to.be.instanceOf(MirrorBusyError);
    const old = new Date(Date.now() - 5 * 60_000);
    await fs.utimes(file, old, old);
    await (await acquireLock(file)).release();
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { acquireLock, LockLostError, MirrorBusyError, processStartedAt } from '../worker/publish/lock.js';

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

  // However long a run takes.

  /** A live process on this host: what a sync busy for minutes in another process looks like. */
  const liveProcess = async () => {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const pid = child.pid as number;
    return {
      pid,
      started: new Date(processStartedAt(pid) ?? Date.now()).toISOString(),
      kill: () => child.kill(),
    };
  };

  it('leaves the lock of a live holder on this host alone, however old its mtime', async () => {
    const holder = await liveProcess();
    try {
      const owner = { pid: holder.pid, host: os.hostname(), started: holder.started, since: 'x', token: 't' };
      await fs.writeFile(file, JSON.stringify(owner));
      const old = new Date(Date.now() - 10 * 60_000);
      await fs.utimes(file, old, old);
      const error = await acquireLock(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(MirrorBusyError);
      expect((error as Error).message).to.equal(`another sync is running (pid ${holder.pid}, since x)`);
      expect(JSON.parse(await fs.readFile(file, 'utf8')).pid).to.equal(holder.pid);
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock whose pid now belongs to a process that started at another time', async () => {
    const holder = await liveProcess();
    try {
      const long = new Date(Date.now() - 3_600_000).toISOString();
      await fs.writeFile(
        file,
        JSON.stringify({ pid: holder.pid, host: os.hostname(), started: long, since: long }),
      );
      const lock = await acquireLock(file);
      expect(JSON.parse(await fs.readFile(file, 'utf8')).pid).to.equal(process.pid);
      await lock.release();
    } finally {
      holder.kill();
    }
  });

  it('keeps its mtime fresh while the main thread is busy, so another host never sees it stale', async () => {
    const lock = await acquireLock(file, { heartbeatMs: 50 });
    try {
      const old = new Date(Date.now() - 10 * 60_000);
      await fs.utimes(file, old, old);
      // A main thread stuck in synchronous work (a huge index) for far longer than the heartbeat.
      const until = Date.now() + 1000;
      while (Date.now() < until) {}
      expect(statSync(file).mtimeMs).to.be.greaterThan(old.getTime() + 5 * 60_000);
    } finally {
      await lock.release();
    }
  });

  it('knows when it was taken over, and its release leaves the new holder its lock', async () => {
    const lock = await acquireLock(file);
    await lock.assertHeld();
    const other = {
      pid: 4242,
      host: 'another-container',
      started: 'x',
      since: '2026-12-04T03:00:00.000Z',
      token: 'z',
    };
    await fs.writeFile(file, JSON.stringify(other));
    const error = await lock.assertHeld().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(LockLostError);
    expect((error as Error).message).to.contain(
      'pid 4242 on host another-container, since 2026-12-04T03:00:00.000Z',
    );
    await lock.release();
    expect(JSON.parse(await fs.readFile(file, 'utf8')).token).to.equal('z');
  });

  it('takes over a lock this very process leaked (a run that never released it)', async () => {
    const leaked = await acquireLock(file);
    const owner = JSON.parse(await fs.readFile(file, 'utf8'));
    // What an earlier run of this process left behind: same pid and start, a token no run holds.
    await fs.writeFile(file, JSON.stringify({ ...owner, token: 'leaked' }));
    const lock = await acquireLock(file);
    expect(JSON.parse(await fs.readFile(file, 'utf8')).token).to.equal(lock.owner.token);
    await lock.release();
    await leaked.release();
  });

  it('treats an empty or garbled lock by its age alone', async () => {
    await fs.writeFile(file, '');
    expect(
      await acquireLock(file).then(
        () => 'taken',
        (e: unknown) => e,
      ),
    ).to.be.instanceOf(MirrorBusyError);
    const old = new Date(Date.now() - 5 * 60_000);
    await fs.utimes(file, old, old);
    await (await acquireLock(file)).release();
  });
});

/**
 * A router, as far as setup.sh and upgrade scripts see one: busybox's applets as the whole PATH, busybox
 * sh to run a script, and the /etc/openwrt_release that says what the router is.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** What a router's /etc/openwrt_release says of it. */
export interface RouterInfo {
  release: string;
  target: string;
  arch: string;
}

export const LAB_ROUTER: RouterInfo = { release: '24.10.4', target: 'ramips/mt7621', arch: 'mipsel_24kc' };

/** /etc/openwrt_release as OpenWrt writes it. */
export function openwrtRelease({ release, target, arch }: RouterInfo): string {
  return [
    "DISTRIB_ID='OpenWrt'",
    `DISTRIB_RELEASE='${release}'`,
    "DISTRIB_REVISION='r28959-29397011cc'",
    `DISTRIB_TARGET='${target}'`,
    `DISTRIB_ARCH='${arch}'`,
    `DISTRIB_DESCRIPTION='OpenWrt ${release} r28959-29397011cc'`,
    "DISTRIB_TAINTS=''",
    '',
  ].join('\n');
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A directory of busybox's applets, each a link to busybox: a router's PATH. */
export async function busyboxBin(work: string): Promise<string> {
  const bin = path.join(work, 'bin');
  await fs.mkdir(bin);
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((candidate) => existsSync(candidate));
  if (!busybox) throw new Error('busybox not found: apt-get install -y busybox');
  // Every applet, wget among them, is busybox itself: the script may use nothing a router lacks.
  const applets = await new Promise<string>((resolve, reject) => {
    let out = '';
    const child = spawn(busybox, ['--list']);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
  for (const applet of applets.split('\n').filter((name) => /^[a-z0-9_.-]+$/.test(name))) {
    await fs.symlink(busybox, path.join(bin, applet));
  }
  return bin;
}

/** Runs busybox sh with only busybox on PATH and no proxy settings, as on a router. */
export function busyboxSh(
  bin: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, 'sh'), args, {
      cwd: options.cwd,
      env: { PATH: bin, HOME: options.cwd, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * HTTPS beside HTTP: the real nginx running the project's template with the stack's TLS entrypoint
 * script (nginx/docker-entrypoint.d/50-openwrt-mirror-tls.sh) against a temp dir, a certificate
 * made by the worker itself, and curl --cacert as the client that must verify it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadConfig } from '../worker/config.js';
import { ConfigError } from '../worker/errors.js';
import { CERT_FILE, ensureSelfSigned, KEY_FILE, MADE_FILE, prepareTls } from '../worker/schedule/tls.js';
import { capturingLogger } from './helpers/log-capture.js';
import { diskPath, FEEDS, type RunningNginx, request, writeServedTree } from './helpers/nginx.js';
import { runCli, spawnCli, waitFor } from './helpers/spawn-cli.js';
import { startTlsNginx, type TlsNginx } from './helpers/tls-nginx.js';

const run = promisify(execFile);

interface Curl {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl as a user runs it: verifying against `cacert`, nothing else trusted. */
async function curl(args: string[]): Promise<Curl> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '--max-time', '10', ...args], {
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** A certificate and key made by openssl directly: what a user would put into the tls volume. */
async function userCertificate(dir: string, name: string, days: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await run('openssl', [
    'req',
    '-x509',
    '-config',
    '/dev/null',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    path.join(dir, KEY_FILE),
    '-out',
    path.join(dir, CERT_FILE),
    '-days',
    String(days),
    '-subj',
    `/CN=${name}`,
    '-addext',
    `subjectAltName=DNS:${name}`,
  ]);
}

describe('HTTPS', () => {
  let work: string;
  let mirror: string;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-https-'));
    mirror = path.join(work, 'mirror');
    await writeServedTree(mirror);
  });

  after(async () => {
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  const stackNginx = (name: string, tlsDir: string) =>
    startTlsNginx({ mirrorRoot: mirror, tlsDir, work: path.join(work, name) });

  describe('with the certificate the worker makes (TLS=self-signed)', () => {
    let tlsDir: string;
    let stack: TlsNginx;
    let nginx: RunningNginx;
    let workerLog: string;
    const https = (host = 'localhost') => `https://${host}:${stack.httpsPort}`;
    const cacert = () => path.join(tlsDir, CERT_FILE);

    before(async () => {
      tlsDir = path.join(work, 'worker-tls');
      // The worker as the container runs it, stopped once its start is logged.
      const worker = spawnCli(['worker'], {
        MIRROR_DIR: path.join(work, 'worker-mirror'),
        TLS: 'self-signed',
        TLS_NAMES: 'localhost,127.0.0.1,::1',
        TLS_DIR: tlsDir,
        HTTPS_PORT: '8443',
        SYNC_ON_START: 'false',
        LOG_FORMAT: 'json',
      });
      await waitFor('the worker to start', () => worker.stdout().includes('worker started'));
      worker.child.kill('SIGTERM');
      await worker.exited;
      workerLog = worker.stdout();
      stack = await stackNginx('worker', tlsDir);
      nginx = stack.nginx;
    });

    after(async () => {
      await nginx?.stop();
    });

    it('the worker makes it first thing at its start and logs its names, expiry and fingerprint', async () => {
      const first = JSON.parse(workerLog.split('\n')[0] as string) as {
        message: string;
        certificate: { sha256: string };
      };
      expect(first.message).to.match(
        /^TLS: made a self-signed certificate: for localhost, 127\.0\.0\.1, ::1, valid until \d{4}-\d\d-\d\d, SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}\./,
      );
      expect(first.message).to.include('https://localhost:8443/ https://127.0.0.1:8443/ https://[::1]:8443/');
      // The fingerprint a user compares is the one openssl shows for the file.
      const { stdout } = await run('openssl', ['x509', '-in', cacert(), '-noout', '-fingerprint', '-sha256']);
      expect(stdout.trim()).to.equal(`sha256 Fingerprint=${first.certificate.sha256}`);
      expect((await fs.stat(path.join(tlsDir, KEY_FILE))).mode & 0o077).to.equal(0);
    });

    it('the script enables HTTPS and says so', () => {
      expect(stack.scriptLog()).to.include(`HTTPS on (listen 127.0.0.1:${stack.httpsPort}`);
    });

    it('curl --cacert fetches an index over HTTPS, byte for byte, by name and by address', async () => {
      const index = `${FEEDS[1].dir}/Packages`;
      const expected = await fs.readFile(diskPath(mirror, index), 'utf8');
      for (const base of [https('localhost'), https('127.0.0.1')]) {
        const got = await curl(['--cacert', cacert(), '-f', `${base}/${index}`]);
        expect(got.code, `${base}: ${got.stderr}`).to.equal(0);
        expect(got.stdout, base).to.equal(expected);
      }
    });

    it('fills in https URLs on the landing page and in the feed lines, and sends no HSTS', async () => {
      const page = await curl(['--cacert', cacert(), '-f', '-D', '-', `${https()}/`]);
      expect(page.code, page.stderr).to.equal(0);
      expect(page.stdout).to.include(`${https()}/setup.sh`);
      expect(page.stdout).to.not.include('@MIRROR_URL@');
      expect(page.stdout.toLowerCase()).to.not.include('strict-transport-security');
      expect(page.stdout).to.match(/^x-content-type-options: nosniff\r?$/im);

      const feeds = await curl(['--cacert', cacert(), '-f', `${https()}/distfeeds.conf`]);
      expect(feeds.stdout.trim().split('\n')).to.deep.equal(
        FEEDS.map((feed) => `src/gz ${feed.name} ${https()}/${feed.dir}`),
      );
      // HTTP is still there, with its own URLs.
      const plain = await request(`${nginx.url}/distfeeds.conf`);
      expect(plain.body.toString()).to.include(`src/gz openwrt_core ${nginx.url}/`);
    });

    it('speaks TLS 1.2 (what older routers have) and 1.3, and tells the published HTTPS port', async () => {
      for (const version of ['1.2', '1.3']) {
        const got = await curl([
          '--cacert',
          cacert(),
          '-f',
          `--tlsv${version}`,
          '--tls-max',
          version,
          `${https()}/healthz`,
        ]);
        expect(got.code, `${version}: ${got.stderr}`).to.equal(0);
      }
      expect((await request(`${nginx.url}/https-port`)).body.toString()).to.equal(`${stack.httpsPort}\n`);
    });

    it('fails verification for a name the certificate lacks and for another certificate', async () => {
      const wrongName = await curl([
        '--cacert',
        cacert(),
        '--resolve',
        `elsewhere.lab:${stack.httpsPort}:127.0.0.1`,
        `https://elsewhere.lab:${stack.httpsPort}/healthz`,
      ]);
      expect(wrongName.code).to.equal(60);
      expect(wrongName.stderr).to.match(/subject name|does not match/);

      const otherDir = path.join(work, 'other');
      await userCertificate(otherDir, 'localhost', 30);
      const otherCert = await curl(['--cacert', path.join(otherDir, CERT_FILE), `${https()}/healthz`]);
      expect(otherCert.code).to.equal(60);
      const noCert = await curl([`${https()}/healthz`]);
      expect(noCert.code).to.equal(60);
    });
  });

  it('without a certificate: the script says HTTP only, HTTP serves, the HTTPS port says HTTPS is off', async () => {
    const stack = await stackNginx('none', path.join(work, 'empty-tls'));
    try {
      expect(stack.scriptLog()).to.include('no certificate in');
      expect(stack.scriptLog()).to.include('HTTPS is off, HTTP only');
      expect((await request(`${stack.nginx.url}/healthz`)).status).to.equal(200);
      expect((await request(`${stack.nginx.url}/https-port`)).status).to.equal(404);
      const got = await curl(['-k', `https://127.0.0.1:${stack.httpsPort}/healthz`]);
      expect(got.code, 'no TLS spoken there').to.equal(35);
      const plain = await request(`http://127.0.0.1:${stack.httpsPort}/releases/`);
      expect(plain.status).to.equal(400);
      expect(plain.body.toString()).to.match(
        /^openwrt-mirror: HTTPS is off: there is no usable certificate in the tls volume/,
      );
      expect(plain.headers['content-type']).to.match(/^text\/plain/);
    } finally {
      await stack.nginx.stop();
    }
  });

  it("with a key that is not the certificate's: the script names the problem and nginx still serves HTTP", async () => {
    const tlsDir = path.join(work, 'mismatch');
    await userCertificate(tlsDir, 'localhost', 30);
    const otherDir = path.join(work, 'mismatch-other');
    await userCertificate(otherDir, 'localhost', 30);
    await fs.copyFile(path.join(otherDir, KEY_FILE), path.join(tlsDir, KEY_FILE));
    const stack = await stackNginx('mismatch', tlsDir);
    try {
      expect(stack.scriptLog()).to.include('nginx cannot use the certificate');
      expect(stack.scriptLog()).to.include('key values mismatch');
      expect(stack.scriptLog()).to.include('HTTPS is off, HTTP only');
      expect((await request(`${stack.nginx.url}/healthz`)).status).to.equal(200);
      expect((await curl(['-k', `https://127.0.0.1:${stack.httpsPort}/healthz`])).code).to.equal(35);
    } finally {
      await stack.nginx.stop();
    }
  });

  it('picks up a certificate made after nginx started, a renewal, and its removal, without a restart', async function () {
    this.timeout(60_000);
    const tlsDir = path.join(work, 'late');
    const stack = await stackNginx('late', tlsDir);
    const watcher = stack.watch();
    const url = `https://localhost:${stack.httpsPort}/healthz`;
    try {
      expect(stack.scriptLog()).to.include('HTTPS is off, HTTP only');
      await ensureSelfSigned({ dir: tlsDir, names: ['localhost'] });
      const first = await fs.readFile(path.join(tlsDir, CERT_FILE));
      await waitFor(
        'HTTPS with the new certificate',
        async () => (await curl(['--cacert', path.join(tlsDir, CERT_FILE), url])).code === 0,
        20_000,
      );
      expect(watcher.log()).to.include('HTTPS on');

      // TLS_NAMES grew: the worker renews its own certificate, nginx serves the new one.
      const renewed = await ensureSelfSigned({ dir: tlsDir, names: ['localhost', 'mirror.test'] });
      expect(renewed.action).to.equal('renewed');
      const second = path.join(work, 'late-second.pem');
      await fs.copyFile(path.join(tlsDir, CERT_FILE), second);
      expect(await fs.readFile(second)).to.not.deep.equal(first);
      await waitFor(
        'HTTPS with the renewed certificate',
        async () => (await curl(['--cacert', second, url])).code === 0,
        20_000,
      );

      // The pair gone: HTTPS off again, HTTP as before.
      await fs.rm(path.join(tlsDir, CERT_FILE));
      await fs.rm(path.join(tlsDir, KEY_FILE));
      await waitFor('HTTPS to go off', async () => (await curl(['-k', url])).code === 35, 20_000);
      expect((await request(`${stack.nginx.url}/healthz`)).status).to.equal(200);
    } finally {
      await watcher.stop();
      await stack.nginx.stop();
    }
  });

  describe('the worker', () => {
    const now = new Date('2027-01-01T00:00:00Z');

    it('refuses a bad TLS or TLS_NAMES value with a line naming the variable and the value', async () => {
      const refused = (env: Record<string, string>) => {
        try {
          loadConfig(env, work);
        } catch (error) {
          expect(error).to.be.instanceOf(ConfigError);
          return (error as ConfigError).message;
        }
        return expect.fail(`accepted ${JSON.stringify(env)}`);
      };
      expect(refused({ TLS: 'on' })).to.equal('TLS="on" is not valid: expected one of off, self-signed');
      expect(refused({ TLS: 'self-signed' })).to.match(
        /^TLS_NAMES="" is not valid: expected the names and addresses/,
      );
      expect(refused({ TLS: 'self-signed', TLS_NAMES: 'mirror.lab,192.168.1.256' })).to.include(
        'bad item "192.168.1.256"',
      );
      expect(refused({ TLS_NAMES: 'mirror lab/x' })).to.include('TLS_NAMES=');
      expect(refused({ HTTPS_PORT: '70000' })).to.match(/^HTTPS_PORT="70000"/);
      const config = loadConfig({ TLS: 'self-signed', TLS_NAMES: 'Mirror.LAB 10.0.0.5 fd00::1' }, work);
      expect(config.tls).to.deep.include({
        mode: 'self-signed',
        names: ['mirror.lab', '10.0.0.5', 'fd00::1'],
        httpsPort: 8443,
      });

      // The worker itself: exit 2, the line on stderr, no certificate made.
      const tlsDir = path.join(work, 'refused-tls');
      const run = await runCli(['worker'], {
        MIRROR_DIR: path.join(work, 'refused'),
        TLS: 'yes',
        TLS_DIR: tlsDir,
      });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include(
        'configuration error: TLS="yes" is not valid: expected one of off, self-signed',
      );
      expect(existsSync(tlsDir)).to.equal(false);
    });

    it('never replaces a certificate the user put there, even one that misses a name or expires', async () => {
      const tlsDir = path.join(work, 'user');
      await userCertificate(tlsDir, 'user.lab', 5);
      const before = await Promise.all([
        fs.readFile(path.join(tlsDir, CERT_FILE)),
        fs.readFile(path.join(tlsDir, KEY_FILE)),
      ]);
      const { logger, lines } = capturingLogger();
      const report = await prepareTls(
        { mode: 'self-signed', names: ['mirror.lab'], dir: tlsDir, httpsPort: 8443 },
        logger,
      );
      expect(report?.action).to.equal('user');
      expect(report?.reason).to.equal('it does not name mirror.lab (TLS_NAMES)');
      const after = await Promise.all([
        fs.readFile(path.join(tlsDir, CERT_FILE)),
        fs.readFile(path.join(tlsDir, KEY_FILE)),
      ]);
      expect(after).to.deep.equal(before);
      expect(lines()[0]?.level).to.equal('warn');
      expect(lines()[0]?.message).to.include('not made by openwrt-mirror, never replaced by it');
      expect(lines()[0]?.message).to.include('beware: it does not name mirror.lab');

      // Expiring in 5 days, names right: still the user's, still left alone.
      const again = await ensureSelfSigned({ dir: tlsDir, names: ['user.lab'] });
      expect(again.action).to.equal('user');
      expect(again.reason).to.match(/^it expires on \d{4}-\d\d-\d\d, within 30 days$/);
      expect(await fs.readFile(path.join(tlsDir, CERT_FILE))).to.deep.equal(before[0]);

      // A user's certificate that replaced one the worker made is the user's from then on.
      const replaced = path.join(work, 'replaced');
      await ensureSelfSigned({ dir: replaced, names: ['mirror.lab'] });
      await userCertificate(path.join(work, 'replacement'), 'other.lab', 400);
      for (const file of [CERT_FILE, KEY_FILE]) {
        await fs.copyFile(path.join(work, 'replacement', file), path.join(replaced, file));
      }
      const kept = await ensureSelfSigned({ dir: replaced, names: ['mirror.lab'] });
      expect(kept.action).to.equal('user');
      expect(await fs.readFile(path.join(replaced, CERT_FILE))).to.deep.equal(
        await fs.readFile(path.join(work, 'replacement', CERT_FILE)),
      );

      // Neither a lone key nor a file that is no certificate is overwritten.
      const lone = path.join(work, 'lone-key');
      await fs.mkdir(lone);
      await fs.writeFile(path.join(lone, KEY_FILE), "the user's key\n");
      await expectRejected(
        ensureSelfSigned({ dir: lone, names: ['mirror.lab'] }),
        /without cert\.pem and was not made by openwrt-mirror: left alone/,
      );
      expect(await fs.readFile(path.join(lone, KEY_FILE), 'utf8')).to.equal("the user's key\n");
      const garbage = path.join(work, 'garbage');
      await fs.mkdir(garbage);
      await fs.writeFile(path.join(garbage, CERT_FILE), 'not a certificate\n');
      await expectRejected(
        ensureSelfSigned({ dir: garbage, names: ['mirror.lab'] }),
        /is not a PEM certificate/,
      );
      expect(await fs.readFile(path.join(garbage, CERT_FILE), 'utf8')).to.equal('not a certificate\n');
    });

    it('keeps its own certificate while it serves, and renews it for new names, near expiry or without its key', async () => {
      const tlsDir = path.join(work, 'own');
      const made = await ensureSelfSigned({ dir: tlsDir, names: ['mirror.lab', '10.0.0.5'] }, { now });
      expect(made.action).to.equal('created');
      expect(made.names).to.deep.equal(['mirror.lab', '10.0.0.5']);
      const cert = () => fs.readFile(path.join(tlsDir, CERT_FILE));
      const first = await cert();

      // Fewer names than it has, and a year on: nothing to do.
      const kept = await ensureSelfSigned(
        { dir: tlsDir, names: ['10.0.0.5'] },
        { now: new Date(now.getTime() + 365 * 86_400_000) },
      );
      expect(kept.action).to.equal('kept');
      expect(await cert()).to.deep.equal(first);

      const grown = await ensureSelfSigned({ dir: tlsDir, names: ['mirror.lab', '10.0.0.5', 'fd00::1'] });
      expect(grown).to.include({ action: 'renewed', reason: 'it does not name fd00::1 (TLS_NAMES)' });
      expect(grown.names).to.deep.equal(['mirror.lab', '10.0.0.5', 'fd00::1']);

      const late = new Date(grown.notAfter.getTime() - 10 * 86_400_000);
      const expiring = await ensureSelfSigned({ dir: tlsDir, names: ['mirror.lab'] }, { now: late });
      expect(expiring.action).to.equal('renewed');
      expect(expiring.reason).to.match(/^it expires on .*, within 30 days$/);

      await fs.rm(path.join(tlsDir, KEY_FILE));
      const keyless = await ensureSelfSigned({ dir: tlsDir, names: ['mirror.lab'] });
      expect(keyless).to.include({ action: 'renewed', reason: 'there is no key.pem' });
      expect((await fs.readFile(path.join(tlsDir, MADE_FILE), 'utf8')).trim().split('\n')).to.have.length(4);
    });

    it('says why no certificate could be made, and the worker goes on (HTTP only)', async () => {
      const { logger, lines } = capturingLogger();
      const report = await prepareTls(
        { mode: 'self-signed', names: ['mirror.lab'], dir: path.join(work, 'no-openssl'), httpsPort: 8443 },
        logger,
        { openssl: '/nonexistent/openssl' },
      );
      expect(report).to.equal(undefined);
      expect(lines()[0]?.level).to.equal('error');
      expect(lines()[0]?.message).to.include('/nonexistent/openssl is not installed');
      expect(lines()[0]?.message).to.include('nginx serves HTTP only until there is one');
    });
  });
});

async function expectRejected(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${message}`);
}

/**
 * nginx as the compose stack runs it for HTTPS: the project's template, and the stack's TLS script
 * (nginx/docker-entrypoint.d/50-openwrt-mirror-tls.sh) run where the image runs it, before nginx
 * starts, against a certificate directory of the test's choosing.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, REPO_ROOT, type RunningNginx, startNginx } from './nginx.js';

export const TLS_SCRIPT = path.join(REPO_ROOT, 'nginx/docker-entrypoint.d/50-openwrt-mirror-tls.sh');

export interface TlsNginx {
  nginx: RunningNginx;
  /** The port nginx's HTTPS listens on (127.0.0.1), which is also the published one here. */
  httpsPort: number;
  /** What the script said at start (its stderr). */
  scriptLog(): string;
  /** The script's loop, as the container leaves it in the background; stop it when done. */
  watch(): { log(): string; stop(): Promise<void> };
}

/**
 * Starts nginx serving `mirrorRoot`, with HTTPS when `tlsDir` holds a usable cert.pem and key.pem.
 * `work` holds the script's include directory.
 */
export async function startTlsNginx(options: {
  mirrorRoot: string;
  tlsDir: string;
  work: string;
}): Promise<TlsNginx> {
  const confDir = path.join(options.work, 'tls.d');
  const httpsPort = await freePort();
  let scriptLog = '';
  let command: string[] = [];
  const env = () => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TLS_DIR: options.tlsDir,
    TLS_CONF_DIR: confDir,
    HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
    HTTPS_PORT: String(httpsPort),
    TLS_CHECK_SECONDS: '1',
    NGINX_CMD: command.join(' '),
  });
  const nginx = await startNginx({
    mirrorRoot: options.mirrorRoot,
    tlsConfDir: confDir,
    beforeStart: async (nginxCommand) => {
      command = nginxCommand;
      const { stderr } = await promisify(execFile)('sh', [TLS_SCRIPT, '--once'], { env: env() });
      scriptLog += stderr;
    },
  });
  return {
    nginx,
    httpsPort,
    scriptLog: () => scriptLog,
    watch() {
      const child = spawn('sh', [TLS_SCRIPT, '--watch'], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      const exited = once(child, 'exit');
      return {
        log: () => log,
        async stop() {
          child.kill('SIGTERM');
          await exited;
        },
      };
    },
  };
}

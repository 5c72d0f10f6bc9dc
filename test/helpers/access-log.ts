/**
 * The stack's access-log rotation (nginx/docker-entrypoint.d/40-openwrt-mirror-access-log.sh), run
 * once against a test's own nginx, as the nginx container's loop runs it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, type RunningNginx } from './nginx.js';

export const ROTATE_SCRIPT = path.join(
  REPO_ROOT,
  'nginx/docker-entrypoint.d/40-openwrt-mirror-access-log.sh',
);

/**
 * Rotates `logDir`'s access.json now (whatever its size, unless `env` says otherwise), which also
 * makes nginx write out what it buffered; returns what the script said on stderr.
 */
export function rotateAccessLog(
  logDir: string,
  nginx: RunningNginx,
  env: Record<string, string> = {},
): string {
  const run = spawnSync('sh', [ROTATE_SCRIPT, '--once'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ACCESS_LOG_DIR: logDir,
      NGINX_PID_FILE: nginx.pidFile,
      ACCESS_LOG_ROTATE_BYTES: '0',
      ACCESS_LOG_SETTLE_SECONDS: '1',
      ...env,
    },
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`rotation failed (${run.status}): ${run.stderr}`);
  return run.stderr;
}

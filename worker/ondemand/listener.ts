/**
 * The worker's on-demand listener: nginx hands it the requests for package files the mirror does
 * not hold (`@ondemand` in the template). On the compose network only, never published. It answers
 * a listed file, fetched and verified (200); a file whose upstream bytes failed the checks (502);
 * a file not listed, or not to be had, with a plain message that says how to mirror it (404).
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { Upstream } from '../upstream/client.js';
import { GenerationGone, Keeper, NotKept } from './keep.js';
import { type ListedFile, ServedIndexes } from './request.js';

/**
 * Different files fetched at once on demand, beyond which a node is told to come back (503): the
 * gate keeps the upstream's politeness anyway, this keeps a flood from queueing for hours.
 */
export const MAX_PENDING_FETCHES = 64;

/** How often a request is resolved again when the generation it resolved in vanished meanwhile. */
const RESOLVE_ATTEMPTS = 3;

export interface OnDemandListener {
  /** Where it listens (the port is the real one when 0 was asked for). */
  address: AddressInfo;
  close(): Promise<void>;
}

export async function startOnDemand(
  config: Config,
  dir: MirrorDir,
  upstream: Upstream,
  logger: Logger,
): Promise<OnDemandListener> {
  const indexes = new ServedIndexes(dir);
  const keeper = new Keeper(dir, upstream, logger);
  await keeper.clearParts();
  const server = http.createServer((req, res) => {
    handleAgain(req, res).catch((error: Error) => {
      logger.warn(`on demand: ${req.url ?? ''}: ${error.message}`, { phase: 'on-demand' });
      if (!res.headersSent)
        answer(res, 500, 'openwrt-mirror: the on-demand listener failed; see the worker log');
      else res.destroy();
    });
  });

  /**
   * A request resolves against the generation served when it arrives; a sync that switches and
   * removes that one meanwhile makes its files vanish mid-request. Then it is resolved again,
   * against the generation served now, a few times at most.
   */
  async function handleAgain(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle(req, res);
      } catch (error) {
        const moved = error instanceof GenerationGone || (error as NodeJS.ErrnoException).code === 'ENOENT';
        if (!moved || attempt >= RESOLVE_ATTEMPTS || res.headersSent) throw error;
      }
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return answer(res, 405, 'openwrt-mirror: only GET and HEAD');
    }
    const found = await indexes.resolve(req.url ?? '/');
    if (!('record' in found)) return answer(res, found.status, found.message);
    if (!config.onDemand) return answer(res, 404, notMirrored(found, 'ON_DEMAND=false'));
    // A HEAD (a monitoring probe, a crawler) does not make the mirror fetch and keep a package.
    if (req.method === 'HEAD' && !(await keeper.held(found))) {
      return answer(res, 404, notMirrored(found, 'a HEAD request does not fetch it (a GET does)'));
    }
    if (keeper.pending >= MAX_PENDING_FETCHES) {
      res.setHeader('Retry-After', '30');
      return answer(
        res,
        503,
        `openwrt-mirror: ${MAX_PENDING_FETCHES} packages are being fetched on demand; try again shortly`,
      );
    }
    let kept: Awaited<ReturnType<Keeper['keep']>>;
    try {
      kept = await keeper.keep(found);
    } catch (error) {
      if (!(error instanceof NotKept) || error instanceof GenerationGone) throw error;
      if (error.refused) {
        return answer(
          res,
          502,
          `openwrt-mirror: refused ${found.record.name} (${found.rel}) from ${config.upstreamUrl}: its bytes do not match the signed index (${error.message}); nothing of it was served`,
        );
      }
      return answer(
        res,
        404,
        notMirrored(found, `fetching it from ${config.upstreamUrl} failed: ${error.message}`),
      );
    }
    // Never through a symlink: only the regular file the keeper verified or found is sent.
    const handle = await fs.open(kept.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new Error(`${kept.path} is not a regular file`);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': stat.size });
      if (req.method === 'HEAD') return void res.end();
      // A node that goes away mid-file ends the pipeline; the handle is closed either way.
      await pipeline(handle.createReadStream({ autoClose: false }), res).catch(() => res.destroy());
    } finally {
      await handle.close();
    }
  }

  server.listen(config.onDemandListen.port, config.onDemandListen.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function notMirrored(file: ListedFile, why: string): string {
  return (
    `openwrt-mirror: ${file.record.name} is listed in the index of ${file.feedDir} (release ${file.release}) but not mirrored, ` +
    `and ${why}. To mirror it: add ${file.record.name} to OPTIONAL_PACKAGES (or the set's optional list in MIRROR_CONFIG) and sync`
  );
}

function answer(res: http.ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

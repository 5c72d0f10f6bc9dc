/**
 * A real HTTP server on 127.0.0.1 that behaves like downloads.openwrt.org — validators, conditional
 * requests, latency, bandwidth — and misbehaves on request: the faults a CDN really produces.
 * Every request is logged with server-side timestamps, so tests assert what the upstream saw.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface FaultRule {
  /** A path (without the leading slash, like the `files` keys), a pattern, or a predicate. */
  match: string | RegExp | ((path: string) => boolean);
  /**
   * `trickle`: the whole file with its Content-Length, at `bytesPerSecond` in small, steady writes.
   * `endless`: 200 without Content-Length and a body that never ends (the file repeated, or filler;
   * the path need not exist), at `bytesPerSecond`, until the client goes away or close() runs.
   */
  kind:
    | '503'
    | '500'
    | '404'
    | '429'
    | 'reset'
    | 'stall'
    | 'short'
    | 'corrupt'
    | 'drop'
    | 'trickle'
    | 'endless';
  /** How many requests it hits; default Infinity; decremented when it fires. */
  times?: number;
  /** Seconds, sent as `Retry-After` (429 sends 1 when unset). */
  retryAfter?: number;
  /** For reset/stall/short/corrupt: where in the body it strikes; default the middle. */
  afterBytes?: number;
  /** For trickle (default 1024) and endless (default 1 MiB/s): the body's rate in bytes per second. */
  bytesPerSecond?: number;
}

export interface RequestRecord {
  method: string;
  /** Decoded, without the leading slash. */
  path: string;
  /** performance.now() ms when the request arrived / when its response ended or its socket closed. */
  start: number;
  end: number;
  /** 0 when no status line was sent (drop). */
  status: number;
  /** Body bytes written. */
  bytes: number;
  conditional: boolean;
  userAgent?: string;
  fault?: string;
}

export interface FakeUpstreamOptions {
  /** Keyed by path without the leading slash, e.g. `releases/24.10.4/targets/…/Packages.gz`. */
  files?: Map<string, Buffer>;
  /** Delay before the status line of every response. */
  latencyMs?: number;
  /** Cap on each response body's rate. */
  bytesPerSecond?: number;
}

export interface FakeUpstream {
  url: string;
  files: Map<string, Buffer>;
  setFiles(files: Map<string, Buffer>): void;
  fault(rule: FaultRule): void;
  clearFaults(): void;
  requests: RequestRecord[];
  resetLog(): void;
  /** Over the requests that `only` picks, all by default. */
  maxInFlight(only?: (record: RequestRecord) => boolean): number;
  maxStartsInWindow(windowMs: number): number;
  close(): Promise<void>;
}

interface Validators {
  bytes: Buffer;
  etag: string;
  lastModifiedSec: number;
}

type Fault = FaultRule['kind'];

/** How a body is paced: `chunkSize` bytes at a time, each after its share of a second. */
interface Pace {
  bytesPerSecond: number;
  chunkSize: number;
}

const RESET_DELAY_MS = 10;
/** A HEAD has no body to break, so these never fire on it. */
const BODY_FAULTS = new Set<Fault>(['reset', 'stall', 'short', 'corrupt', 'trickle', 'endless']);
const TRICKLE_BYTES_PER_SECOND = 1024;
const ENDLESS_BYTES_PER_SECOND = 1024 * 1024;
const ENDLESS_FILLER = Buffer.from('endless index line\n');

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const latencyMs = opts.latencyMs ?? 0;
  const bytesPerSecond = opts.bytesPerSecond;
  const bandwidth: Pace | undefined = bytesPerSecond
    ? { bytesPerSecond, chunkSize: Math.max(1024, Math.floor(bytesPerSecond / 50)) }
    : undefined;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const validators = new Map<string, Validators>();
  let rules: FaultRule[] = [];
  let closed = false;

  const upstream: FakeUpstream = {
    url: '',
    files: opts.files ?? new Map(),
    setFiles(files) {
      upstream.files = files;
    },
    fault(rule) {
      rules.push({ ...rule });
    },
    clearFaults() {
      rules = [];
    },
    requests: [],
    resetLog() {
      upstream.requests.length = 0;
    },
    maxInFlight: (only) => maxInFlight(only ? upstream.requests.filter(only) : upstream.requests),
    maxStartsInWindow: (windowMs) => maxStartsInWindow(upstream.requests, windowMs),
    close,
  };

  function later(ms: number, fn: () => void): void {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  const wait = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? later(ms, resolve) : resolve()));

  /** Strong ETag from the bytes; Last-Modified moves forward whenever a path's bytes change. */
  function validatorsFor(path: string, bytes: Buffer): Validators {
    const known = validators.get(path);
    if (known?.bytes === bytes) return known;
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    if (known?.etag === etag) {
      known.bytes = bytes;
      return known;
    }
    const now = Math.floor(Date.now() / 1000);
    const lastModifiedSec = known ? Math.max(now, known.lastModifiedSec + 1) : now;
    const fresh = { bytes, etag, lastModifiedSec };
    validators.set(path, fresh);
    return fresh;
  }

  function takeFault(method: string, path: string): FaultRule | undefined {
    const rule = rules.find(
      (r) =>
        (r.times ?? Number.POSITIVE_INFINITY) > 0 &&
        (method === 'GET' || !BODY_FAULTS.has(r.kind)) &&
        matches(r.match, path),
    );
    if (rule && rule.times !== undefined) rule.times -= 1;
    return rule;
  }

  /** Writes `body` at `pace` (the bandwidth cap by default); resolves false if the connection went away. */
  async function send(
    res: ServerResponse,
    record: RequestRecord,
    body: Buffer,
    pace = bandwidth,
  ): Promise<boolean> {
    const chunkSize = pace?.chunkSize ?? body.length;
    for (let offset = 0; offset < body.length; offset += chunkSize) {
      if (!(await write(res, record, body.subarray(offset, offset + chunkSize), pace))) return false;
    }
    return !closed && !res.destroyed;
  }

  /** Repeats `pattern` at `pace` until the connection goes away or close() runs. */
  async function sendForever(res: ServerResponse, record: RequestRecord, pattern: Buffer, pace: Pace) {
    // The pattern and then a chunk more of it: every chunk is a plain slice, wherever it starts.
    const cycle = Buffer.alloc(pattern.length + pace.chunkSize, pattern);
    let offset = 0;
    while (await write(res, record, cycle.subarray(offset, offset + pace.chunkSize), pace)) {
      offset = (offset + pace.chunkSize) % pattern.length;
    }
  }

  async function write(
    res: ServerResponse,
    record: RequestRecord,
    chunk: Buffer,
    pace: Pace | undefined,
  ): Promise<boolean> {
    if (closed || res.destroyed) return false;
    // Every chunk takes its time on the wire before it arrives, the last one too: a small file is not
    // instant either, and the response ends as soon as its last byte is out.
    if (pace) await wait((chunk.length / pace.bytesPerSecond) * 1000);
    if (closed || res.destroyed) return false;
    record.bytes += chunk.length;
    if (!res.write(chunk) && !res.destroyed) await drained(res);
    return !closed && !res.destroyed;
  }

  /** Resolves on 'drain' or 'close', leaving no listener behind (a long body waits many times). */
  function drained(res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done).off('close', done);
        resolve();
      };
      res.on('drain', done).on('close', done);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> {
    const socket = req.socket;
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://upstream').pathname).replace(/^\/+/, '');
    } catch {
      record.status = 400;
      res.writeHead(400).end();
      return;
    }
    record.path = path;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      record.status = 405;
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const rule = takeFault(req.method, path);
    const fault: Fault | undefined = rule?.kind;
    if (fault) record.fault = fault;
    if (fault === 'drop') {
      socket.destroy();
      return;
    }

    await wait(latencyMs);
    if (closed || res.destroyed) return;

    if (fault === '503' || fault === '500' || fault === '404' || fault === '429') {
      const status = Number(fault);
      const retryAfter = rule?.retryAfter ?? (fault === '429' ? 1 : undefined);
      record.status = status;
      const body = Buffer.from(`${status} (injected fault)\n`);
      res.writeHead(status, {
        'Content-Type': 'text/plain',
        'Content-Length': req.method === 'HEAD' ? 0 : body.length,
        ...(retryAfter !== undefined && status !== 404 && status !== 500
          ? { 'Retry-After': String(retryAfter) }
          : {}),
      });
      if (req.method === 'HEAD') res.end();
      else {
        record.bytes = body.length;
        res.end(body);
      }
      return;
    }

    const file = upstream.files.get(path);
    if (fault === 'endless') {
      record.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const rate = rule?.bytesPerSecond ?? ENDLESS_BYTES_PER_SECOND;
      const pattern = file?.length ? file : ENDLESS_FILLER;
      await sendForever(res, record, pattern, {
        bytesPerSecond: rate,
        chunkSize: paceChunk(rate, 16 * 1024),
      });
      return;
    }
    if (file === undefined) {
      record.status = 404;
      res
        .writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 })
        .end(req.method === 'HEAD' ? undefined : 'not found\n');
      return;
    }

    const { etag, lastModifiedSec } = validatorsFor(path, file);
    const lastModified = new Date(lastModifiedSec * 1000).toUTCString();
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': file.length,
      ETag: etag,
      'Last-Modified': lastModified,
    };
    if (!fault && notModified(req, etag, lastModifiedSec)) {
      record.status = 304;
      res.writeHead(304, { ETag: etag, 'Last-Modified': lastModified }).end();
      return;
    }
    record.status = 200;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }

    const cut = Math.min(file.length, Math.max(0, rule?.afterBytes ?? Math.floor(file.length / 2)));
    switch (fault) {
      case 'corrupt': {
        const bad = Buffer.from(file);
        const at = Math.min(cut, bad.length - 1);
        if (at >= 0) bad[at] = (bad[at] ?? 0) ^ 0xff;
        if (await send(res, record, bad)) res.end();
        return;
      }
      case 'reset':
        if (await send(res, record, file.subarray(0, cut))) {
          // Let the part reach the client before the RST overtakes it.
          later(RESET_DELAY_MS, () => socket.resetAndDestroy());
        }
        return;
      case 'short':
        if (await send(res, record, file.subarray(0, cut))) socket.end();
        return;
      case 'stall':
        // Headers and part of the body, then silence until the client gives up or close() runs.
        await send(res, record, file.subarray(0, cut));
        return;
      case 'trickle': {
        const rate = rule?.bytesPerSecond ?? TRICKLE_BYTES_PER_SECOND;
        // Ten writes a second: never silent for long, however slow.
        const pace = { bytesPerSecond: rate, chunkSize: paceChunk(rate) };
        if (await send(res, record, file, pace)) res.end();
        return;
      }
      default:
        if (await send(res, record, file)) res.end();
    }
  }

  const server = createServer((req, res) => {
    const record: RequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      start: performance.now(),
      end: Number.NaN,
      status: 0,
      bytes: 0,
      conditional:
        req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined,
      userAgent: req.headers['user-agent'],
    };
    upstream.requests.push(record);
    const finish = () => {
      if (Number.isNaN(record.end)) record.end = performance.now();
    };
    res.once('finish', finish).once('close', finish);
    handle(req, res, record).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function close(): Promise<void> {
    closed = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await stopped;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}

/** A tenth of a second's worth of bytes, at least 1 and at most `most`. */
function paceChunk(bytesPerSecond: number, most = Number.POSITIVE_INFINITY): number {
  return Math.max(1, Math.min(most, Math.floor(bytesPerSecond / 10)));
}

function matches(match: FaultRule['match'], path: string): boolean {
  if (typeof match === 'string') return match.replace(/^\/+/, '') === path;
  if (match instanceof RegExp) return match.test(path);
  return match(path);
}

function notModified(req: IncomingMessage, etag: string, lastModifiedSec: number): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''))
      .some((tag) => tag === '*' || tag === etag);
  }
  const ifModifiedSince = req.headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && lastModifiedSec * 1000 <= since;
}

/** The most requests open at one instant; a request still open counts until the end of time. */
function maxInFlight(records: readonly RequestRecord[]): number {
  const events = records.flatMap((r) => [
    { at: r.start, delta: 1 },
    { at: Number.isNaN(r.end) ? Number.POSITIVE_INFINITY : r.end, delta: -1 },
  ]);
  // At equal times an end comes first: back-to-back requests are not concurrent.
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const { delta } of events) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

/** The most requests that started within any half-open window [t, t + windowMs). */
function maxStartsInWindow(records: readonly RequestRecord[], windowMs: number): number {
  const starts = records.map((r) => r.start).sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < starts.length; last++) {
    while ((starts[last] ?? 0) - (starts[first] ?? 0) >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

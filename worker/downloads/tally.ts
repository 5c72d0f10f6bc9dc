/**
 * What the routers use: requests counted per day, per feed and per package, the clients of each
 * day, the updates they ran and the packages they asked for in vain. Pure: requests in, counts out,
 * and a JSON form the store keeps in the volume. Every map a client can grow (addresses, the names
 * of missing packages) has a cap, past which it counts without remembering.
 */
import type { FormatName } from '../formats/index.js';
import { byCodeUnits } from '../order.js';
import { classify, type ServedRequest } from './requests.js';

/** Days of totals kept (the page's chart, status.json). */
export const DAYS_KEPT = 30;
/** Days of per-package, per-feed and missing-package counts kept: "this week". */
export const DETAIL_DAYS = 7;
/** Index requests of one client closer together than this are one update (a feed list fetched). */
export const UPDATE_GAP_MS = 60_000;
/** Caps on what one day remembers; beyond them requests are counted, not named. */
const MAX_CLIENTS_A_DAY = 100_000;
const MAX_PACKAGES_A_DAY = 50_000;
const MAX_MISSING_A_DAY = 2_000;
/** Listed in status.json: the most asked-for packages, and the most asked-for missing ones. */
export const TOP_LISTED = 20;

/** Requests, bytes. */
type Pair = [number, number];

export interface DayCounts {
  /** YYYY-MM-DD in the worker's TZ. */
  day: string;
  /** Every GET logged, whatever its answer. */
  requests: number;
  bytes: number;
  /** Package files served (200, 206). */
  packages: number;
  notFound: number;
  /** Distinct client addresses. */
  clients: number;
  /** Updates run by nodes: their index requests, one per client within UPDATE_GAP_MS. */
  updates: Record<FormatName, number>;
}

interface Day extends DayCounts {
  /** Kept for DETAIL_DAYS: `<feed> <name>` → requests, bytes. */
  byPackage: Map<string, Pair>;
  byFeed: Map<string, Pair>;
  /** `<feed> <name>` → requests answered 404. */
  missing: Map<string, number>;
  /** Addresses seen; kept for today and yesterday only. */
  clientSet?: Set<string>;
}

export interface Totals {
  requests: number;
  bytes: number;
  packages: number;
  notFound: number;
  updates: Record<FormatName, number>;
  /** Feed directory → requests and bytes served from it. */
  feeds: Record<string, Pair>;
}

/** What status.json carries (`downloads`), the page shows and /metrics counts. */
export interface DownloadsSummary {
  updatedAt: string;
  /** The days counted, oldest first (at most DAYS_KEPT). */
  days: DayCounts[];
  /** The last DETAIL_DAYS days. */
  week: {
    from?: string;
    requests: number;
    bytes: number;
    packages: number;
    top: { feed: string; name: string; requests: number; bytes: number }[];
    feeds: { feed: string; requests: number; bytes: number }[];
    /** Package files asked for and answered 404, most asked first. */
    missing: { feed: string; name: string; requests: number }[];
  };
  /** Since counting began: what /metrics exposes as counters. */
  totals: Totals;
  /** Log lines that were not a request of ours (not JSON, overlong). */
  unreadableLines: number;
}

/** The JSON form kept in the volume. */
export interface TallyJson {
  schema: 1;
  days: (DayCounts & {
    byPackage?: [string, Pair][];
    byFeed?: [string, Pair][];
    missing?: [string, number][];
    clientSet?: string[];
  })[];
  lastIndexAt: [string, number][];
  totals: Totals;
  unreadableLines: number;
}

export class DownloadTally {
  private readonly days = new Map<string, Day>();
  /** Client → when it last fetched an index. */
  private readonly lastIndexAt = new Map<string, number>();
  private totals: Totals = emptyTotals();
  private unreadable = 0;
  private readonly dayOf: (time: number) => string;

  constructor(timeZone: string, json?: TallyJson) {
    this.dayOf = dayFunction(timeZone);
    if (json) this.load(json);
  }

  /** A log line that was not a request (not JSON, not ours, too long). */
  unreadableLine(count = 1): void {
    this.unreadable += count;
  }

  add(request: ServedRequest): void {
    const day = this.day(this.dayOf(request.time));
    const totals = this.totals;
    day.requests++;
    day.bytes += request.bytes;
    totals.requests++;
    totals.bytes += request.bytes;
    if (request.status === 404) {
      day.notFound++;
      totals.notFound++;
    }
    if (day.clientSet && !day.clientSet.has(request.client) && day.clientSet.size < MAX_CLIENTS_A_DAY) {
      day.clientSet.add(request.client);
      day.clients = day.clientSet.size;
    }

    const what = classify(request.path);
    const served = request.status === 200 || request.status === 206 || request.status === 304;
    if (what.kind === 'package' || what.kind === 'index') {
      if (served) {
        addPair(day.byFeed, what.feed, request.bytes);
        const [requests, bytes] = totals.feeds[what.feed] ?? [0, 0];
        totals.feeds[what.feed] = [requests + 1, bytes + request.bytes];
      }
    }
    if (what.kind === 'package') {
      const key = `${what.feed} ${what.name}`;
      if (served && request.status !== 304) {
        day.packages++;
        totals.packages++;
        if (day.byPackage.has(key) || day.byPackage.size < MAX_PACKAGES_A_DAY)
          addPair(day.byPackage, key, request.bytes);
      } else if (request.status === 404) {
        if (day.missing.has(key) || day.missing.size < MAX_MISSING_A_DAY)
          day.missing.set(key, (day.missing.get(key) ?? 0) + 1);
      }
    }
    if (what.kind === 'index' && what.update && served) {
      const last = this.lastIndexAt.get(request.client);
      if (last === undefined || request.time - last >= UPDATE_GAP_MS) {
        day.updates[what.update]++;
        totals.updates[what.update]++;
      }
      this.lastIndexAt.set(request.client, request.time);
    }
  }

  summary(now: Date): DownloadsSummary {
    this.prune(now);
    const days = [...this.days.values()].sort((a, b) => byCodeUnits(a.day, b.day));
    const detailed = days.slice(-DETAIL_DAYS);
    const packages = new Map<string, Pair>();
    const feeds = new Map<string, Pair>();
    const missing = new Map<string, number>();
    for (const day of detailed) {
      for (const [key, [requests, bytes]] of day.byPackage) addPair(packages, key, bytes, requests);
      for (const [key, [requests, bytes]] of day.byFeed) addPair(feeds, key, bytes, requests);
      for (const [key, requests] of day.missing) missing.set(key, (missing.get(key) ?? 0) + requests);
    }
    const byRequests = <T>(entries: [string, T][], count: (value: T) => number) =>
      entries.sort((a, b) => count(b[1]) - count(a[1]) || byCodeUnits(a[0], b[0]));
    return {
      updatedAt: now.toISOString(),
      days: days.map(countsOf),
      week: {
        ...(detailed[0] && { from: detailed[0].day }),
        requests: sum(detailed, (day) => day.requests),
        bytes: sum(detailed, (day) => day.bytes),
        packages: sum(detailed, (day) => day.packages),
        top: byRequests([...packages], (pair) => pair[0])
          .slice(0, TOP_LISTED)
          .map(([key, [requests, bytes]]) => ({ ...splitKey(key), requests, bytes })),
        feeds: [...feeds]
          .sort((a, b) => b[1][1] - a[1][1] || byCodeUnits(a[0], b[0]))
          .map(([feed, [requests, bytes]]) => ({ feed, requests, bytes })),
        missing: byRequests([...missing], (requests) => requests)
          .slice(0, TOP_LISTED)
          .map(([key, requests]) => ({ ...splitKey(key), requests })),
      },
      totals: structuredClone(this.totals),
      unreadableLines: this.unreadable,
    };
  }

  toJSON(): TallyJson {
    return {
      schema: 1,
      days: [...this.days.values()].map((day) => ({
        ...countsOf(day),
        ...(day.byPackage.size > 0 && { byPackage: [...day.byPackage] }),
        ...(day.byFeed.size > 0 && { byFeed: [...day.byFeed] }),
        ...(day.missing.size > 0 && { missing: [...day.missing] }),
        ...(day.clientSet && { clientSet: [...day.clientSet] }),
      })),
      lastIndexAt: [...this.lastIndexAt],
      totals: this.totals,
      unreadableLines: this.unreadable,
    };
  }

  /**
   * Drops what is past keeping: days beyond DAYS_KEPT, details beyond DETAIL_DAYS, addresses of
   * days before yesterday, index times older than an update gap.
   */
  prune(now: Date): void {
    const today = this.dayOf(now.getTime());
    const keys = [...this.days.keys()].filter((key) => key <= today).sort();
    const keep = new Set(keys.slice(-DAYS_KEPT));
    const detail = new Set(keys.slice(-DETAIL_DAYS));
    const addresses = new Set(keys.slice(-2));
    for (const [key, day] of this.days) {
      if (!keep.has(key) && key <= today) {
        this.days.delete(key);
        continue;
      }
      if (!detail.has(key) && key <= today) {
        day.byPackage.clear();
        day.byFeed.clear();
        day.missing.clear();
      }
      if (!addresses.has(key) && key <= today) delete day.clientSet;
    }
    for (const [client, at] of this.lastIndexAt) {
      if (now.getTime() - at > UPDATE_GAP_MS) this.lastIndexAt.delete(client);
    }
  }

  private day(key: string): Day {
    let day = this.days.get(key);
    if (!day) {
      day = {
        day: key,
        requests: 0,
        bytes: 0,
        packages: 0,
        notFound: 0,
        clients: 0,
        updates: { opkg: 0, apk: 0 },
        byPackage: new Map(),
        byFeed: new Map(),
        missing: new Map(),
        clientSet: new Set(),
      };
      this.days.set(key, day);
    }
    return day;
  }

  private load(json: TallyJson): void {
    for (const saved of json.days ?? []) {
      const day = this.day(saved.day);
      Object.assign(day, countsOf(saved));
      day.byPackage = new Map(saved.byPackage ?? []);
      day.byFeed = new Map(saved.byFeed ?? []);
      day.missing = new Map(saved.missing ?? []);
      if (saved.clientSet) day.clientSet = new Set(saved.clientSet);
      else delete day.clientSet;
    }
    for (const [client, at] of json.lastIndexAt ?? []) this.lastIndexAt.set(client, at);
    this.totals = { ...emptyTotals(), ...json.totals };
    this.unreadable = json.unreadableLines ?? 0;
  }
}

function emptyTotals(): Totals {
  return { requests: 0, bytes: 0, packages: 0, notFound: 0, updates: { opkg: 0, apk: 0 }, feeds: {} };
}

function countsOf(day: DayCounts): DayCounts {
  return {
    day: day.day,
    requests: day.requests,
    bytes: day.bytes,
    packages: day.packages,
    notFound: day.notFound,
    clients: day.clients,
    updates: { opkg: day.updates?.opkg ?? 0, apk: day.updates?.apk ?? 0 },
  };
}

function addPair(map: Map<string, Pair>, key: string, bytes: number, requests = 1): void {
  const pair = map.get(key);
  if (pair) {
    pair[0] += requests;
    pair[1] += bytes;
  } else map.set(key, [requests, bytes]);
}

function splitKey(key: string): { feed: string; name: string } {
  const space = key.indexOf(' ');
  return { feed: key.slice(0, space), name: key.slice(space + 1) };
}

function sum<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

/** The calendar day of a time in `timeZone`, as YYYY-MM-DD; cached per quarter hour. */
function dayFunction(timeZone: string): (time: number) => string {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  const cache = new Map<number, string>();
  return (time) => {
    const slot = Math.floor(time / 900_000);
    let day = cache.get(slot);
    if (day === undefined) {
      day = format.format(new Date(slot * 900_000));
      if (cache.size > 1000) cache.clear();
      cache.set(slot, day);
    }
    return day;
  };
}

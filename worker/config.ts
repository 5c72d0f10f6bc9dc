/**
 * Configuration: the environment (and the MIRROR_CONFIG file it may name), parsed once into a typed,
 * validated object. Every variable has a default; a bad value throws a ConfigError that names the
 * variable (or the file, line and key), the value and what was expected.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cron from 'node-cron';
import { readMirrorConfigFile } from './config/mirror-file.js';
import {
  ARCH,
  badItem,
  DEVICE,
  deviceListProblem,
  EMAIL,
  FEED,
  feedListProblem,
  type ItemRule,
  MIRROR_MODES,
  NOTIFY_EVENT,
  PACKAGE,
  RELEASE,
  splitList,
  TARGET,
  TLS_MODES,
  tlsNamesProblem,
} from './config/rules.js';
import type { MirrorMode, NotifyConfig, NotifyEvent, SetConfig, TlsConfig } from './config/types.js';
import { ConfigError } from './errors.js';

export type { MirrorMode, NotifyConfig, NotifyEvent, SetConfig, TlsConfig, TlsMode } from './config/types.js';

/** The repository's `keys/`: one level up from both `worker/` (tsx) and `dist/` (built). */
export const BUNDLED_KEYS_DIR = fileURLToPath(new URL('../keys', import.meta.url));

export interface Config {
  /** Every release × target mirrored, each with its lists; at least one. */
  sets: SetConfig[];
  /** Absolute path of the MIRROR_CONFIG file the sets came from, when there is one. */
  mirrorConfig?: string;
  /** Base URL without a trailing slash. */
  upstreamUrl: string;
  /** Absolute path of the served tree. */
  mirrorDir: string;
  keysDir: string;
  /** Trusted in addition to `keysDir`: the compose stack's `./keys.d`. */
  extraKeysDir?: string;
  /** Where nginx writes its JSON access log (the stack's access-log volume); unset: no download statistics. */
  accessLogDir?: string;
  schedule: string;
  syncOnStart: boolean;
  jitterSeconds: number;
  timezone: string;
  rateLimit: number;
  concurrency: number;
  maxRetries: number;
  retryDelayMs: number;
  timeoutMs: number;
  /** Bytes per second a transfer must keep up over `timeoutMs`; 0: no floor. */
  minBytesPerSecond: number;
  pruneGraceHours: number;
  httpPort: number;
  /** Fetch, verify and keep a listed package the mirror lacks when a node asks for it (ON_DEMAND). */
  onDemand: boolean;
  /** Where the worker's on-demand listener listens for nginx (ON_DEMAND_LISTEN). */
  onDemandListen: { host: string; port: number };
  /** Published generations kept per release, the served one included, for `rollback`. */
  keepGenerations: number;
  tls: TlsConfig;
  logLevel: LogLevel;
  /** `json` or `pretty`; undefined: JSON unless stdout is a terminal. */
  logFormat?: 'json' | 'pretty';
  notify: NotifyConfig;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LAB_REQUIRED = [
  'python3',
  'batctl-full',
  'kmod-batman-adv',
  'wpad-mesh-mbedtls',
  'ip-full',
  'tcpdump-mini',
  'openssh-server',
  'openssh-sftp-server',
  'openssh-keygen',
];

export const LAB_OPTIONAL = [
  'iperf3',
  'ethtool',
  'nano',
  'htop',
  'rsync',
  'collectd',
  'collectd-mod-cpu',
  'collectd-mod-memory',
  'collectd-mod-load',
  'collectd-mod-interface',
  'collectd-mod-ping',
  'collectd-mod-rrdtool',
  'collectd-mod-network',
  'collectd-mod-iwinfo',
  'luci-app-statistics',
  'vnstat2',
  'vnstat2-json',
];

/** MIRROR_DIR outside the container (docker-compose.yml sets /srv/mirror), relative to the working directory. */
export const DEFAULT_MIRROR_DIR = './openwrt-repo';

/** TLS_DIR outside the container (docker-compose.yml sets /srv/tls, the `tls` volume). */
export const DEFAULT_TLS_DIR = './tls';

const DEFAULT_FEEDS = ['base', 'luci', 'packages', 'routing', 'telephony'];

type Env = Record<string, string | undefined>;

/** Reads the configuration from `env` (process.env by default). Throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const read = new Reader(env);
  const extraKeysDir = read.scalar('OPENWRT_EXTRA_KEYS_DIR');
  const accessLogDir = read.scalar('ACCESS_LOG_DIR');
  const mirrorConfig = read.scalar('MIRROR_CONFIG');
  const defaults = {
    // Empty means the default here: a release or a target list is never empty.
    releases: read.list('OPENWRT_VERSION', ['24.10.4'], RELEASE, { emptyIsDefault: true }),
    targets: read.list('OPENWRT_TARGET', ['ramips/mt7621'], TARGET, { emptyIsDefault: true }),
    feeds: read.list('OPENWRT_FEEDS', DEFAULT_FEEDS, FEED),
    mode: read.oneOf('MIRROR_MODE', 'selective', MIRROR_MODES) as MirrorMode,
    required: read.list('REQUIRED_PACKAGES', LAB_REQUIRED, PACKAGE),
    optional: read.list('OPTIONAL_PACKAGES', LAB_OPTIONAL, PACKAGE),
    devices: read.list('OPENWRT_DEVICES', ['dlink_dir-1960-a1'], DEVICE),
  };
  const feedProblem = feedListProblem(defaults.feeds);
  if (feedProblem) throw new ConfigError('OPENWRT_FEEDS', env.OPENWRT_FEEDS ?? '', feedProblem);
  const deviceProblem = deviceListProblem(defaults.devices);
  if (deviceProblem) throw new ConfigError('OPENWRT_DEVICES', env.OPENWRT_DEVICES ?? '', deviceProblem);
  const sources = {
    required: 'REQUIRED_PACKAGES',
    optional: 'OPTIONAL_PACKAGES',
    devices: 'OPENWRT_DEVICES',
  };
  const configFile = mirrorConfig === undefined ? undefined : path.resolve(cwd, mirrorConfig);
  const sets: SetConfig[] = configFile
    ? readMirrorConfigFile(configFile, defaults)
    : defaults.releases.flatMap((release) =>
        defaults.targets.map((target) => ({
          release,
          target,
          feeds: defaults.feeds,
          mode: defaults.mode,
          required: defaults.required,
          optional: defaults.optional,
          devices: defaults.devices,
          sources,
        })),
      );
  // One architecture can only be right for one target; with several, each profiles.json says its own.
  const arch = read.scalar('OPENWRT_ARCH');
  if (arch !== undefined) {
    if (!ARCH.pattern.test(arch)) throw new ConfigError('OPENWRT_ARCH', arch, ARCH.expected);
    const targets = [...new Set(sets.map((set) => set.target))];
    if (targets.length > 1) {
      throw new ConfigError(
        'OPENWRT_ARCH',
        arch,
        `empty when several targets are mirrored (${targets.join(', ')}): each target's profiles.json gives its own`,
      );
    }
    for (const set of sets) set.arch = arch;
  }
  return {
    sets,
    ...(configFile !== undefined && { mirrorConfig: configFile }),
    upstreamUrl: read.url('UPSTREAM_URL', 'https://downloads.openwrt.org'),
    mirrorDir: path.resolve(cwd, read.scalar('MIRROR_DIR') ?? DEFAULT_MIRROR_DIR),
    keysDir: path.resolve(cwd, read.scalar('OPENWRT_KEYS_DIR') ?? BUNDLED_KEYS_DIR),
    ...(extraKeysDir !== undefined && { extraKeysDir: path.resolve(cwd, extraKeysDir) }),
    ...(accessLogDir !== undefined && { accessLogDir: path.resolve(cwd, accessLogDir) }),
    schedule: read.cron('SYNC_SCHEDULE', '0 3 * * *'),
    syncOnStart: read.boolean('SYNC_ON_START', true),
    // Every duration below feeds a timer, and fits it (at most 2^31 - 1 ms, about 24.8 days).
    jitterSeconds: read.number('SYNC_JITTER', 0, { min: 0, max: 86_400 }),
    timezone: read.timezone('TZ', 'UTC'),
    // The slowest rate still spaces requests by less than 17 minutes.
    rateLimit: read.number('RATE_LIMIT', 2, { min: 0.001, max: 1000 }),
    concurrency: read.number('CONCURRENCY', 3, { min: 1, max: 64, integer: true }),
    maxRetries: read.number('MAX_RETRIES', 3, { min: 0, max: 20, integer: true }),
    retryDelayMs: read.number('RETRY_DELAY', 2, { min: 0, max: 3600 }) * 1000,
    // Below a tenth of a second no answer could ever arrive in time.
    timeoutMs: read.number('DOWNLOAD_TIMEOUT', 30, { min: 0.1, max: 3600 }) * 1000,
    // A 7 MiB image at the floor takes half an hour: slower is a stuck upstream, not a slow link.
    minBytesPerSecond: read.number('DOWNLOAD_MIN_RATE', 4096, { min: 0, max: 1e9 }),
    pruneGraceHours: read.number('PRUNE_GRACE_HOURS', 24, { min: 0, max: 24 * 365 }),
    httpPort: read.number('HTTP_PORT', 8080, { min: 1, max: 65535, integer: true }),
    onDemand: read.boolean('ON_DEMAND', true),
    onDemandListen: read.listenAddress('ON_DEMAND_LISTEN', '0.0.0.0:8081'),
    keepGenerations: read.number('KEEP_GENERATIONS', 3, { min: 1, max: 100, integer: true }),
    tls: readTls(read, cwd),
    logLevel: read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    ...(read.scalar('LOG_FORMAT') !== undefined && {
      logFormat: read.oneOf('LOG_FORMAT', 'json', ['json', 'pretty'] as const),
    }),
    notify: readNotify(read),
  };
}

function readTls(read: Reader, cwd: string): TlsConfig {
  const mode = read.oneOf('TLS', 'off', TLS_MODES);
  const raw = read.scalar('TLS_NAMES') ?? '';
  const names = [...new Set(splitList(raw.toLowerCase()))];
  const problem = tlsNamesProblem(names);
  if (problem) throw new ConfigError('TLS_NAMES', raw, problem);
  if (mode === 'self-signed' && names.length === 0) {
    throw new ConfigError(
      'TLS_NAMES',
      raw,
      'the names and addresses routers reach the mirror by, e.g. mirror.lab,192.168.1.10, since TLS=self-signed makes a certificate for them',
    );
  }
  return {
    mode,
    names,
    dir: path.resolve(cwd, read.scalar('TLS_DIR') ?? DEFAULT_TLS_DIR),
    httpsPort: read.number('HTTPS_PORT', 8443, { min: 1, max: 65535, integer: true }),
  };
}

function readNotify(read: Reader): NotifyConfig {
  const on = read.list('NOTIFY_ON', ['failure', 'recovery'], NOTIFY_EVENT) as NotifyEvent[];
  const webhookUrl = read.scalar('NOTIFY_WEBHOOK_URL');
  const smtpUrl = read.scalar('SMTP_URL');
  const emailTo = read.list('NOTIFY_EMAIL_TO', [], EMAIL);
  const emailFrom = read.list('NOTIFY_EMAIL_FROM', [`openwrt-mirror@${os.hostname()}`], EMAIL);
  if (emailFrom.length !== 1) {
    throw new ConfigError('NOTIFY_EMAIL_FROM', emailFrom.join(','), 'one e-mail address');
  }
  if (smtpUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(smtpUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || !url.hostname) {
      throw new ConfigError(
        'SMTP_URL',
        smtpUrl,
        'an smtp:// or smtps:// URL like smtp://user:password@mail.lab:587',
      );
    }
    if (emailTo.length === 0) {
      throw new ConfigError('NOTIFY_EMAIL_TO', '', 'the addresses to write to, since SMTP_URL is set');
    }
  } else if (emailTo.length > 0) {
    throw new ConfigError('SMTP_URL', '', `the mail server to send through, since NOTIFY_EMAIL_TO is set`);
  }
  return {
    on,
    ...(webhookUrl !== undefined && { webhookUrl: read.url('NOTIFY_WEBHOOK_URL', '', { query: true }) }),
    ...(smtpUrl !== undefined && { smtpUrl }),
    emailTo,
    emailFrom: emailFrom[0] as string,
  };
}

/** `24.10.4 ramips/mt7621`: how messages, logs and status name a set. */
export function setLabel(set: { release: string; target: string }): string {
  return `${set.release} ${set.target}`;
}

interface NumberRule {
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  integer?: boolean;
}

class Reader {
  constructor(private readonly env: Env) {}

  /** A scalar variable; set-but-empty counts as unset, as `VAR=` in a compose .env means "default". */
  scalar(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  oneOf<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const value = this.scalar(name) ?? fallback;
    if (!(choices as readonly string[]).includes(value)) {
      throw new ConfigError(name, value, `one of ${choices.join(', ')}`);
    }
    return value as T;
  }

  /**
   * Comma- or space-separated; set-but-empty is an empty list (e.g. `OPENWRT_DEVICES=` means no
   * images), or the default where a list cannot be empty.
   */
  list(
    name: string,
    fallback: string[],
    rule: ItemRule,
    options: { emptyIsDefault?: boolean } = {},
  ): string[] {
    const raw = this.env[name];
    if (raw === undefined) return [...fallback];
    const items = splitList(raw);
    if (items.length === 0 && options.emptyIsDefault) return [...fallback];
    const bad = badItem(items, rule);
    if (bad) throw new ConfigError(name, raw, bad);
    return [...new Set(items)];
  }

  number(name: string, fallback: number, rule: NumberRule): number {
    const raw = this.scalar(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const bounds = [
      rule.min === undefined ? '' : `${rule.exclusiveMin ? '>' : '>='} ${rule.min}`,
      rule.max === undefined ? '' : `<= ${rule.max}`,
    ]
      .filter(Boolean)
      .join(' and ');
    const expected = `${rule.integer ? 'a whole number' : 'a number'} ${bounds}`.trim();
    const ok =
      /^[+]?(\d+\.?\d*|\.\d+)$/.test(raw) &&
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (rule.min === undefined || (rule.exclusiveMin ? value > rule.min : value >= rule.min)) &&
      (rule.max === undefined || value <= rule.max);
    if (!ok) throw new ConfigError(name, raw, expected);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.scalar(name);
    if (raw === undefined) return fallback;
    const value = raw.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, raw, 'true or false');
  }

  /** `query`: a query string is allowed (a webhook's token); never a fragment or credentials. */
  url(name: string, fallback: string, options: { query?: boolean } = {}): string {
    const raw = this.scalar(name) ?? fallback;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(name, raw, 'an http:// or https:// URL');
    }
    const refused = (!options.query && url.search) || url.hash || url.username;
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || refused) {
      const without = options.query ? 'fragment or credentials' : 'query, fragment or credentials';
      throw new ConfigError(name, raw, `an http:// or https:// URL without ${without}`);
    }
    return options.query ? url.href : url.href.replace(/\/+$/, '');
  }

  /** `host:port`, `[v6]:port` or a bare port (all addresses). */
  listenAddress(name: string, fallback: string): { host: string; port: number } {
    const raw = this.scalar(name) ?? fallback;
    const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(raw);
    const port = Number(match?.[2]);
    // 0: any free port (tests).
    if (!match || !Number.isInteger(port) || port > 65535) {
      throw new ConfigError(name, raw, 'host:port like 0.0.0.0:8081 (or [::]:8081, or a port alone)');
    }
    return { host: (match[1] ?? '0.0.0.0').replace(/^\[|\]$/g, ''), port };
  }

  cron(name: string, fallback: string): string {
    const value = this.scalar(name) ?? fallback;
    if (!cron.validate(value)) {
      throw new ConfigError(
        name,
        value,
        'a cron expression like "0 3 * * *" (an optional leading seconds field is allowed)',
      );
    }
    return value;
  }

  timezone(name: string, fallback: string): string {
    const value = this.scalar(name) ?? fallback;
    // UTC needs no check, and the check loads ICU's zone data: 17 ms of every start-up.
    if (value === 'UTC') return value;
    try {
      new Intl.DateTimeFormat('en', { timeZone: value });
    } catch {
      throw new ConfigError(name, value, 'an IANA time zone like UTC or Europe/Berlin');
    }
    return value;
  }
}

/**
 * The real nginx binary running the project's own template (nginx/templates/default.conf.template),
 * rendered the way the official image renders it, on a free 127.0.0.1 port.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TEMPLATE_PATH = path.join(REPO_ROOT, 'nginx/templates/default.conf.template');
/** What NGINX_STATIC points at: the directory of html/index.html and setup.sh. */
export const NGINX_STATIC_DIR = path.join(REPO_ROOT, 'nginx');

/** The template's variables; in compose, NGINX_ENVSUBST_FILTER lets exactly these through. */
export const TEMPLATE_VARIABLES = ['MIRROR_ROOT', 'LISTEN_PORT', 'NGINX_STATIC', 'ONDEMAND_URL'] as const;
export type TemplateVariables = Record<(typeof TEMPLATE_VARIABLES)[number], string>;

/**
 * Substitutes like `envsubst '${A} ${B}'`: `$NAME` and `${NAME}` for the given names only; every other
 * `$word` (nginx's `$uri`, `$http_host`, …) is left as it is.
 */
export function renderTemplate(template: string, variables: Record<string, string>): string {
  return template.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      return Object.hasOwn(variables, name) ? (variables[name] as string) : match;
    },
  );
}

export function findNginx(): string {
  const candidates = [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
  const found = candidates.find((candidate): candidate is string => !!candidate && existsSync(candidate));
  if (!found) {
    throw new Error('nginx not found (looked at NGINX_BIN, /usr/sbin/nginx): apt-get install -y nginx-light');
  }
  return found;
}

/** Temp-path directives for the modules this binary has: the compiled-in paths need root. */
function tempPathDirectives(nginx: string, dir: string): string[] {
  const { stdout, stderr } = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  const configure = `${stdout}${stderr}`;
  const directives = ['client_body_temp_path'];
  for (const module of ['proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    if (!configure.includes(`--without-http_${module}_module`)) directives.push(`${module}_temp_path`);
  }
  return directives.map(
    (directive) => `${directive} ${path.join(dir, directive.replace(/_temp_path$/, ''))};`,
  );
}

export interface NginxOptions {
  /** The served tree (MIRROR_ROOT). It need not exist: /healthz answers without it. */
  mirrorRoot: string;
  /** NGINX_STATIC; the repository's nginx/ by default. */
  staticDir?: string;
  /** The loopback address to listen on: `127.0.0.1` by default, `::1` for an IPv6 server. */
  address?: '127.0.0.1' | '::1';
  /**
   * Run with what the compose stack adds (nginx/openwrt-mirror.d/, the JSON access log), writing
   * the log into this directory instead of the stack's volume.
   */
  accessLogDir?: string;
  /**
   * ONDEMAND_URL, the worker's on-demand listener; by default a closed port, as when the worker
   * does not answer.
   */
  onDemandUrl?: string;
  /**
   * Read the stack's TLS include (what nginx/docker-entrypoint.d/50-openwrt-mirror-tls.sh writes)
   * from this directory instead of /etc/nginx/openwrt-mirror-tls.d/.
   */
  tlsConfDir?: string;
  /**
   * Runs when the configuration is written and nginx is not started yet, the moment the image runs
   * its /docker-entrypoint.d scripts, with the command line that makes `nginx -t` and `nginx -s
   * reload` act on this nginx.
   */
  beforeStart?: (nginxCommand: string[]) => Promise<void>;
  /**
   * A server block of its own instead of the project's template, given the `listen` address (the
   * benchmark's bare nginx: same main configuration, same worker count).
   */
  server?: (listen: string) => string;
}

export interface RunningNginx {
  port: number;
  /** `http://127.0.0.1:<port>`, or `http://[::1]:<port>` */
  url: string;
  /** The rendered server block, as the container's conf.d/default.conf would hold it. */
  config: string;
  /** nginx's pid file, for a signal (the access log's rotation). */
  pidFile: string;
  /** nginx with the options that find this configuration: add `-t` or `-s reload`. */
  command: string[];
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground on a free port; retries if another process takes the port first. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(options, await freePort(options.address));
    } catch (error) {
      lastError = error;
      if (!String(error).includes('Address already in use')) throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: NginxOptions, port: number): Promise<RunningNginx> {
  const nginx = findNginx();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-nginx-'));
  const template = await fs.readFile(TEMPLATE_PATH, 'utf8');
  const address = options.address ?? '127.0.0.1';
  const authority = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const config =
    options.server?.(authority) ??
    renderTemplate(template, {
      MIRROR_ROOT: options.mirrorRoot,
      LISTEN_PORT: authority,
      NGINX_STATIC: options.staticDir ?? NGINX_STATIC_DIR,
      ONDEMAND_URL: options.onDemandUrl ?? `http://127.0.0.1:${await freePort()}`,
    } satisfies TemplateVariables);
  const withTls = options.tlsConfDir === undefined ? config : withTlsConfDir(config, options.tlsConfDir);
  await fs.writeFile(
    path.join(dir, 'default.conf'),
    await withStackFiles(withTls, dir, options.accessLogDir),
  );
  const errorLogPath = path.join(dir, 'error.log');
  // As root the workers would drop to nobody, who cannot read a 0700 temp dir or a checkout under
  // /root: in this wrapper only, keep them root. Not root: nginx ignores `user`.
  const main = [
    process.getuid?.() === 0 ? 'user root;' : '',
    'daemon off;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${errorLogPath} info;`,
    'events { worker_connections 64; }',
    'http {',
    existsSync('/etc/nginx/mime.types') ? '  include /etc/nginx/mime.types;' : '',
    '  default_type application/octet-stream;',
    `  access_log ${path.join(dir, 'access.log')};`,
    '  sendfile on;',
    '  keepalive_timeout 65;',
    ...tempPathDirectives(nginx, dir).map((line) => `  ${line}`),
    `  include ${path.join(dir, 'default.conf')};`,
    '}',
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, 'nginx.conf'), main);

  const command = [nginx, '-p', `${dir}/`, '-e', errorLogPath, '-c', path.join(dir, 'nginx.conf')];
  await options.beforeStart?.(command);
  const child = spawn(nginx, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit');
  const errorLog = () => fs.readFile(errorLogPath, 'utf8').catch(() => '');
  const cleanUp = () => fs.rm(dir, { recursive: true, force: true });

  try {
    await waitUntilListening(child, address, port);
  } catch (error) {
    await stopChild(child, exited);
    const log = await errorLog();
    await cleanUp();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${output}${log}`);
  }

  return {
    port,
    url: `http://${authority}`,
    config,
    pidFile: path.join(dir, 'nginx.pid'),
    command,
    errorLog,
    async stop() {
      await stopChild(child, exited);
      await cleanUp();
    },
  };
}

/** Where the stack's TLS script writes the HTTPS lines the template includes in its server block. */
export const STACK_TLS_CONF_DIR = '/etc/nginx/openwrt-mirror-tls.d/';

function withTlsConfDir(config: string, tlsConfDir: string): string {
  if (!config.includes(STACK_TLS_CONF_DIR))
    throw new Error(`the template does not include ${STACK_TLS_CONF_DIR}`);
  return config.replaceAll(STACK_TLS_CONF_DIR, `${tlsConfDir}/`);
}

/** Where the stack mounts nginx/openwrt-mirror.d/, and where its access log goes there. */
export const STACK_INCLUDE_DIR = '/etc/nginx/openwrt-mirror.d/';
const STACK_ACCESS_LOG_DIR = '/var/log/openwrt-mirror/';

/**
 * The rendered config as the stack runs it, when `accessLogDir` is given: the include glob points at
 * a copy of the repository's nginx/openwrt-mirror.d/ whose log path is `accessLogDir`.
 */
async function withStackFiles(
  config: string,
  dir: string,
  accessLogDir: string | undefined,
): Promise<string> {
  if (accessLogDir === undefined) return config;
  if (!config.includes(STACK_INCLUDE_DIR))
    throw new Error(`the template does not include ${STACK_INCLUDE_DIR}`);
  const includeDir = path.join(dir, 'openwrt-mirror.d');
  await fs.mkdir(includeDir);
  const source = path.join(REPO_ROOT, 'nginx/openwrt-mirror.d');
  let logs = 0;
  for (const name of await fs.readdir(source)) {
    const text = await fs.readFile(path.join(source, name), 'utf8');
    if (text.includes(STACK_ACCESS_LOG_DIR)) logs++;
    await fs.writeFile(
      path.join(includeDir, name),
      text.replaceAll(STACK_ACCESS_LOG_DIR, `${accessLogDir}/`),
    );
  }
  if (logs === 0) throw new Error(`nothing in nginx/openwrt-mirror.d logs into ${STACK_ACCESS_LOG_DIR}`);
  return config.replaceAll(STACK_INCLUDE_DIR, `${includeDir}/`);
}

async function waitUntilListening(child: ChildProcess, host: string, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (await canConnect(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('not listening after 10 s');
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port nothing listens on right now. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request with nothing done behind our back: no decompression, no path normalisation. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.end();
  });
}

/**
 * Writes the request line and Host as given, byte for byte, so `..`, `%2e` and any Host reach nginx
 * untouched. `host: null` sends an HTTP/1.0 request without one.
 */
export function rawRequest(
  port: number,
  target: string,
  options: { host?: string | null } = {},
): Promise<{ status: number; text: string }> {
  const host = options.host === undefined ? 'mirror.test' : options.host;
  const head =
    host === null
      ? `GET ${target} HTTP/1.0\r\n\r\n`
      : `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.once('connect', () => {
      socket.write(head);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text });
    });
  });
}

export const RELEASE = '24.10.4';
export const GENERATION = '20261126T030000Z';
const TARGET_DIR = `releases/${RELEASE}/targets/ramips/mt7621`;
const ARCH_DIR = `releases/${RELEASE}/packages/mipsel_24kc`;

/**
 * Where a URL path of the served tree is on disk: `releases/<ver>/…` lives in the generation, which
 * holds the release's tree at its top, as the worker builds it (worker/publish/generation.ts).
 */
export function diskPath(root: string, urlPath: string): string {
  return path.join(
    root,
    urlPath.startsWith(`releases/${RELEASE}/`)
      ? urlPath.replace(`releases/${RELEASE}/`, `.mirror/generations/${GENERATION}/`)
      : urlPath,
  );
}

/** The seven feeds of a 24.10 node, with the directory each is served from. */
export const FEEDS = [
  { name: 'openwrt_core', dir: `${TARGET_DIR}/packages`, pkg: 'base-files', version: '1649-r28984' },
  { name: 'openwrt_base', dir: `${ARCH_DIR}/base`, pkg: 'ip-full', version: '6.11.0-r1' },
  {
    name: 'openwrt_kmods',
    dir: `${TARGET_DIR}/kmods/6.6.110-1-5a4b0bb0a5c1bc5e0eba54f2e7c1d0f0`,
    pkg: 'kmod-batman-adv',
    version: '6.6.110.2024.3-r1',
  },
  {
    name: 'openwrt_luci',
    dir: `${ARCH_DIR}/luci`,
    pkg: 'luci-app-statistics',
    version: '25.292.66247~fd6ebd9-r1',
  },
  { name: 'openwrt_packages', dir: `${ARCH_DIR}/packages`, pkg: 'python3', version: '3.11.14-r1' },
  { name: 'openwrt_routing', dir: `${ARCH_DIR}/routing`, pkg: 'batctl-full', version: '2024.3-r1' },
  { name: 'openwrt_telephony', dir: `${ARCH_DIR}/telephony`, pkg: 'libosip2', version: '5.3.1-r1' },
] as const;

export const PLACEHOLDER = '@MIRROR_URL@';

/**
 * Host headers that would be shell if pasted into setup.sh's MIRROR=…: each one, run, creates a file
 * named PWNED. nginx itself refuses some (those with a space or a slash); the rest reach the template.
 */
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: ${IFS} is shell, not a placeholder
export const HOSTILE_HOSTS = [
  'x$(touch${IFS}PWNED)',
  'x`touch PWNED`',
  'x`touch${IFS}PWNED`',
  'x";touch PWNED;"',
  'x";touch${IFS}PWNED;"',
  "x';touch PWNED;'",
  "x';touch${IFS}PWNED;'",
  "x'$(touch${IFS}PWNED)'",
  'x\\";touch${IFS}PWNED;\\"',
  'mirror.lab:8080$(touch${IFS}PWNED)',
  "mirror.lab:8080';touch${IFS}PWNED;'",
  '[fd00::1]:8080$(touch${IFS}PWNED)',
  '[fd00::1$(touch${IFS}PWNED)]:8080',
  'mirror.lab:$(touch${IFS}PWNED)',
  '$(touch${IFS}PWNED).lab',
  'mirror.lab/$(touch${IFS}PWNED)',
];
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: ${IFS} is shell, not a placeholder

export interface ServedTree {
  root: string;
  /** URL path (no leading slash) → the exact bytes on disk. */
  files: Map<string, Buffer>;
  ipk: string;
  apk: string;
  image: string;
  /** distfeeds.conf as the worker writes it, with the placeholder. */
  distfeeds: string;
}

/**
 * A synced MIRROR_DIR made by hand in the layout of docs/architecture.md: `releases/<ver>` is a
 * symlink into `.mirror/generations/<id>/`, and `.mirror/` holds what must never be served.
 */
export async function writeServedTree(root: string): Promise<ServedTree> {
  const files = new Map<string, Buffer>();
  const put = async (urlPath: string, content: string | Buffer) => {
    const bytes = Buffer.from(content);
    await fs.mkdir(path.dirname(diskPath(root, urlPath)), { recursive: true });
    await fs.writeFile(diskPath(root, urlPath), bytes);
    files.set(urlPath, bytes);
  };

  for (const feed of FEEDS) {
    const file = `${feed.pkg}_${feed.version}_mipsel_24kc.ipk`;
    // A package that happens to contain the placeholder must still be served as it is.
    const ipk = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0]),
      Buffer.from(`${feed.pkg} ${PLACEHOLDER} `),
      Buffer.alloc(4096, feed.name),
    ]);
    const packages = `Package: ${feed.pkg}\nVersion: ${feed.version}\nDepends: libc\nFilename: ${file}\nSize: ${ipk.length}\nDescription: served via ${PLACEHOLDER}\n\n`;
    await put(`${feed.dir}/${file}`, ipk);
    await put(`${feed.dir}/Packages`, packages);
    await put(`${feed.dir}/Packages.gz`, gzipSync(packages));
    await put(
      `${feed.dir}/Packages.sig`,
      'untrusted comment: signed by key d310c6f2833e97f7\nRWTTEMbygz6X9w==\n',
    );
    await put(`${feed.dir}/Packages.manifest`, `Package: ${feed.pkg}\nVersion: ${feed.version}\n\n`);
    await put(
      `${feed.dir}/index.json`,
      JSON.stringify({ version: 2, architecture: 'mipsel_24kc', packages: { [feed.pkg]: feed.version } }),
    );
  }
  const apk = `${FEEDS[0].dir}/libubox20260213-2025.10.03~04cd252e-r1.apk`;
  await put(apk, Buffer.alloc(2048, 7));
  await put(`${FEEDS[0].dir}/.lock`, 'hidden');

  const image = `${TARGET_DIR}/openwrt-${RELEASE}-ramips-mt7621-dlink_dir-1960-a1-squashfs-sysupgrade.bin`;
  await put(image, Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 31) % 256)));
  await put(
    `${TARGET_DIR}/openwrt-${RELEASE}-ramips-mt7621-dlink_dir-1960-a1-squashfs-recovery.img`,
    Buffer.alloc(1024, 3),
  );
  await put(
    `${TARGET_DIR}/openwrt-${RELEASE}-ramips-mt7621-dlink_dir-1960-a1-initramfs.itb`,
    Buffer.alloc(1024, 4),
  );
  await put(`${TARGET_DIR}/profiles.json`, JSON.stringify({ arch_packages: 'mipsel_24kc', profiles: {} }));
  await put(`${TARGET_DIR}/sha256sums`, `${'0'.repeat(64)} *${path.basename(image)}\n`);
  await put(
    `${TARGET_DIR}/sha256sums.sig`,
    'untrusted comment: signed by key d310c6f2833e97f7\nRWTTEMbygz6X9w==\n',
  );

  const distfeeds = `${FEEDS.map((feed) => `src/gz ${feed.name} ${PLACEHOLDER}/${feed.dir}`).join('\n')}\n`;
  await put('distfeeds.conf', distfeeds);
  // The worker's per-set layout, with this tree's one set.
  await put(`distfeeds/${RELEASE}/ramips/mt7621/distfeeds.conf`, distfeeds);
  await put('distfeeds/sets', `${RELEASE} ramips/mt7621 mipsel_24kc opkg\n`);
  await put(
    'status.json',
    JSON.stringify({
      schema: 1,
      mirror: {
        release: RELEASE,
        target: 'ramips/mt7621',
        arch: 'mipsel_24kc',
        format: 'opkg',
        mode: 'selective',
        upstream: 'https://downloads.openwrt.org',
        generation: GENERATION,
      },
    }),
  );
  await put(
    'metrics',
    '# TYPE openwrt_mirror_last_success_timestamp_seconds gauge\nopenwrt_mirror_last_success_timestamp_seconds 1795662000\n',
  );

  // What must never be served.
  await put('.mirror/tmp/partial', 'half a download');
  await put('.mirror/state.json', '{"secret":"validators"}');
  await put(`.mirror/pool/${'a'.repeat(64)}`, 'pooled');
  await put('.hidden', 'hidden');
  await put('status.json.tmp', 'half-written status');

  await fs.mkdir(path.join(root, 'releases'), { recursive: true });
  await fs.symlink(`../.mirror/generations/${GENERATION}`, path.join(root, 'releases', RELEASE));
  return {
    root,
    files,
    ipk: `${FEEDS[1].dir}/${FEEDS[1].pkg}_${FEEDS[1].version}_mipsel_24kc.ipk`,
    apk,
    image,
    distfeeds,
  };
}

export interface PlantedLink {
  /** The URL path that reaches the link, or a file through a linked directory. */
  urlPath: string;
  /** Bytes of the target that must not come out. */
  leaks: string;
}

/**
 * Symlinks where a tampered generation or volume would put them: files and directories inside the
 * generation and at the top of the root, aimed at the host's /etc and at the never-served .mirror/.
 */
export async function plantSymlinks(root: string): Promise<PlantedLink[]> {
  const feed = FEEDS[1].dir;
  const state = path.join(root, '.mirror/state.json');
  const pool = path.join(root, '.mirror/pool');
  const links: [string, string, PlantedLink[]][] = [
    [`${feed}/passwd.ipk`, '/etc/passwd', [{ urlPath: `${feed}/passwd.ipk`, leaks: 'root:' }]],
    [`${feed}/state.json`, state, [{ urlPath: `${feed}/state.json`, leaks: 'validators' }]],
    [`${feed}/Packages.old`, state, [{ urlPath: `${feed}/Packages.old`, leaks: 'validators' }]],
    [
      `${feed}/host-etc`,
      '/etc',
      [
        { urlPath: `${feed}/host-etc/passwd`, leaks: 'root:' },
        { urlPath: `${feed}/host-etc/`, leaks: 'passwd' },
      ],
    ],
    [`${feed}/pool`, pool, [{ urlPath: `${feed}/pool/${'a'.repeat(64)}`, leaks: 'pooled' }]],
    // Beside the worker's own release link: a link of that shape that leads anywhere else.
    ['releases/evil-dir', '/etc', [{ urlPath: 'releases/evil-dir/passwd', leaks: 'root:' }]],
    ['releases/evil-file', '/etc/passwd', [{ urlPath: 'releases/evil-file', leaks: 'root:' }]],
    [
      'releases/evil-up',
      '../../../../../../../../etc',
      [{ urlPath: 'releases/evil-up/passwd', leaks: 'root:' }],
    ],
    ['releases/inside', '../.mirror', [{ urlPath: 'releases/inside/state.json', leaks: 'validators' }]],
    // One level short of a generation, and the pool beside the generations: the checked path climbs
    // from where a link leads and must find .mirror/generations two levels up (the template's map).
    [
      'releases/generations',
      '../.mirror/generations',
      [
        {
          urlPath: `releases/generations/${GENERATION}/${feed.replace(`releases/${RELEASE}/`, '')}/`,
          leaks: '_mipsel_24kc.ipk',
        },
      ],
    ],
    ['releases/pool', '../.mirror/pool', [{ urlPath: `releases/pool/${'a'.repeat(64)}`, leaks: 'pooled' }]],
    // Directory links right below the release and deep below it, into the generations themselves.
    [`releases/${RELEASE}/etc`, '/etc', [{ urlPath: `releases/${RELEASE}/etc/passwd`, leaks: 'root:' }]],
    [
      `${feed}/generations`,
      path.join(root, '.mirror/generations'),
      [{ urlPath: `${feed}/generations/${GENERATION}/`, leaks: 'href="packages/' }],
    ],
    ['passwd', '/etc/passwd', [{ urlPath: 'passwd', leaks: 'root:' }]],
    ['state.json', state, [{ urlPath: 'state.json', leaks: 'validators' }]],
    ['host-etc', '/etc', [{ urlPath: 'host-etc/passwd', leaks: 'root:' }]],
  ];
  for (const [urlPath, target] of links) await fs.symlink(target, diskPath(root, urlPath));
  return links.flatMap(([, , reached]) => reached);
}

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import {
  diskPath,
  FEEDS,
  GENERATION,
  HOSTILE_HOSTS,
  PLACEHOLDER,
  type PlantedLink,
  plantSymlinks,
  RELEASE,
  type RunningNginx,
  rawRequest,
  request,
  type ServedTree,
  startNginx,
  writeServedTree,
} from './helpers/nginx.js';

/** The policy of everything but the landing page (listings add allow-downloads): nothing runs. */
const SANDBOX = "default-src 'none'; sandbox";

/** A header of a raw reply, by name. */
const rawHeader = (text: string, name: string) =>
  new RegExp(`^${name}: ([^\\r]*)\\r$`, 'im').exec(text.split('\r\n\r\n')[0] as string)?.[1];

/** A feed directory's file that a browser would run if it were served as what its name says. */
const ACTIVE_FILES: Record<string, string> = {
  'notes.html': '<html><body><script>document.title = "ran"</script></body></html>\n',
  'notes.htm': '<html><body><script>document.title = "ran"</script></body></html>\n',
  'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n',
  'notes.xhtml': '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>\n',
  'feed.xml': '<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>\n',
  'app.js': 'alert(1);\n',
};

describe('nginx serving a synced mirror', () => {
  let dir: string;
  let tree: ServedTree;
  let links: PlantedLink[];
  let nginx: RunningNginx;
  const get = (urlPath: string, headers: Record<string, string> = {}) =>
    request(`${nginx.url}${urlPath}`, { headers });
  const core = FEEDS[0].dir;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-served-'));
    tree = await writeServedTree(dir);
    links = await plantSymlinks(dir);
    for (const [name, content] of Object.entries(ACTIVE_FILES)) {
      await fs.writeFile(diskPath(dir, `${FEEDS[2].dir}/${name}`), content);
    }
    nginx = await startNginx({ mirrorRoot: dir });
  });

  after(async () => {
    await nginx?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lists the release tree through the releases/<version> symlink, without hidden files', async () => {
    const releases = await get('/releases/');
    expect(releases.status).to.equal(200);
    expect(releases.body.toString()).to.include(`href="${RELEASE}/"`);

    const feed = await get(`/${FEEDS[1].dir}/`);
    expect(feed.status).to.equal(200);
    expect(feed.headers['content-type']).to.match(/^text\/html/);
    const listing = feed.body.toString();
    expect(listing).to.include(path.basename(tree.ipk));
    expect(listing).to.include('Packages.gz');

    const coreListing = (await get(`/${core}/`)).body.toString();
    expect(coreListing).to.include('Packages.sig');
    expect(coreListing).not.to.include('.lock');
  });

  it('redirects a directory without its slash relatively, not to the port nginx listens on', async () => {
    const reply = await get(`/releases/${RELEASE}`);
    expect(reply.status).to.equal(301);
    expect(reply.headers.location).to.equal(`/releases/${RELEASE}/`);
  });

  it('serves the new generation as soon as the worker switches the symlink', async () => {
    const next = '20261127T030000Z';
    const newCore = path.join(dir, '.mirror/generations', next, core.replace(`releases/${RELEASE}/`, ''));
    await fs.mkdir(newCore, { recursive: true });
    await fs.writeFile(path.join(newCore, 'Packages'), 'Package: base-files\nVersion: 1650\n\n');
    const link = path.join(dir, 'releases', RELEASE);
    const switchTo = async (generation: string) => {
      await fs.symlink(`../.mirror/generations/${generation}`, `${link}.new`);
      await fs.rename(`${link}.new`, link);
    };

    expect((await get(`/${core}/Packages`)).body.toString()).to.include('Version: 1649');
    await switchTo(next);
    try {
      expect((await get(`/${core}/Packages`)).body.toString()).to.equal(
        'Package: base-files\nVersion: 1650\n\n',
      );
    } finally {
      await switchTo(GENERATION);
    }
  });

  it('gives every kind of file its content type', async () => {
    const target = path.posix.dirname(tree.image);
    const expected: [string, RegExp][] = [
      [`/${tree.ipk}`, /^application\/octet-stream$/],
      [`/${tree.apk}`, /^application\/octet-stream$/],
      [`/${tree.image}`, /^application\/octet-stream$/],
      [
        `/${target}/openwrt-${RELEASE}-ramips-mt7621-dlink_dir-1960-a1-squashfs-recovery.img`,
        /^application\/octet-stream$/,
      ],
      [
        `/${target}/openwrt-${RELEASE}-ramips-mt7621-dlink_dir-1960-a1-initramfs.itb`,
        /^application\/octet-stream$/,
      ],
      [`/${core}/Packages`, /^text\/plain/],
      [`/${core}/Packages.manifest`, /^text\/plain/],
      [`/${core}/Packages.sig`, /^text\/plain/],
      [`/${target}/sha256sums`, /^text\/plain/],
      [`/${target}/sha256sums.sig`, /^text\/plain/],
      [`/${core}/Packages.gz`, /^application\/(x-)?gzip$/],
      [`/${core}/index.json`, /^application\/json/],
      [`/${target}/profiles.json`, /^application\/json/],
      ['/status.json', /^application\/json/],
      ['/metrics', /^text\/plain; version=0\.0\.4/],
    ];
    for (const [urlPath, type] of expected) {
      const reply = await get(urlPath);
      expect(reply.status, urlPath).to.equal(200);
      expect(reply.headers['content-type'], urlPath).to.match(type);
    }
  });

  it('serves Packages.gz as the gzip file it is, also to a client that accepts gzip', async () => {
    const urlPath = `${core}/Packages.gz`;
    const reply = await get(`/${urlPath}`, { 'Accept-Encoding': 'gzip, deflate' });
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-encoding']).to.equal(undefined);
    expect(reply.body.equals(tree.files.get(urlPath) as Buffer)).to.equal(true);
    expect(gunzipSync(reply.body).toString()).to.equal(
      (tree.files.get(`${core}/Packages`) as Buffer).toString(),
    );
  });

  it('serves indexes and packages byte for byte, even when they contain the distfeeds placeholder', async () => {
    for (const urlPath of [`${core}/Packages`, tree.ipk]) {
      const reply = await get(`/${urlPath}`, { 'Accept-Encoding': 'gzip' });
      expect(reply.headers['content-encoding'], urlPath).to.equal(undefined);
      expect(reply.body.includes(PLACEHOLDER), urlPath).to.equal(true);
      expect(reply.body.equals(tree.files.get(urlPath) as Buffer), urlPath).to.equal(true);
    }
  });

  it('answers a Range request with 206 and exactly those bytes', async () => {
    const image = tree.files.get(tree.image) as Buffer;
    const middle = await get(`/${tree.image}`, { Range: 'bytes=1000-1999' });
    expect(middle.status).to.equal(206);
    expect(middle.headers['content-range']).to.equal(`bytes 1000-1999/${image.length}`);
    expect(middle.body.equals(image.subarray(1000, 2000))).to.equal(true);

    const tail = await get(`/${tree.image}`, { Range: 'bytes=-16' });
    expect(tail.status).to.equal(206);
    expect(tail.body.equals(image.subarray(-16))).to.equal(true);
  });

  it('answers HEAD with the length and no body', async () => {
    const reply = await request(`${nginx.url}/${tree.ipk}`, { method: 'HEAD' });
    expect(reply.status).to.equal(200);
    expect(Number(reply.headers['content-length'])).to.equal((tree.files.get(tree.ipk) as Buffer).length);
    expect(reply.body.length).to.equal(0);
  });

  it('makes caches revalidate indexes and keep versioned packages and images', async () => {
    for (const name of ['Packages', 'Packages.gz', 'Packages.sig', 'index.json']) {
      const reply = await get(`/${core}/${name}`);
      expect(reply.headers['cache-control'], name).to.equal('no-cache');
      expect(reply.headers.etag, name).to.be.a('string');
      expect(reply.headers['last-modified'], name).to.be.a('string');
    }
    const first = await get(`/${core}/Packages.gz`);
    const again = await get(`/${core}/Packages.gz`, { 'If-None-Match': first.headers.etag as string });
    expect(again.status).to.equal(304);

    for (const urlPath of [tree.ipk, tree.apk, tree.image]) {
      expect((await get(`/${urlPath}`)).headers['cache-control'], urlPath).to.equal('public, max-age=86400');
    }
    for (const urlPath of ['/status.json', '/metrics', '/distfeeds.conf', '/setup.sh', '/healthz']) {
      expect((await get(urlPath)).headers['cache-control'], urlPath).to.equal('no-store');
    }
    for (const urlPath of ['/', '/app.js', '/style.css', '/releases/', `/${core}/`]) {
      expect((await get(urlPath)).headers['cache-control'], urlPath).to.equal('no-cache');
    }
    expect((await get('/distfeeds.conf')).headers['retry-after']).to.equal(undefined);
    // A package that is not here now may be after the next sync: a 404 is never kept.
    const missing = await get(`/${core}/not-mirrored_1.0-r1_mipsel_24kc.ipk`);
    expect(missing.status).to.equal(404);
    expect(missing.headers['cache-control']).to.equal('no-store');
  });

  it('never serves the .mirror directory, hidden files or temporary files', async () => {
    for (const urlPath of [
      '/.mirror/tmp/partial',
      '/.mirror/state.json',
      `/.mirror/pool/${'a'.repeat(64)}`,
      `/.mirror/generations/${GENERATION}/${core.replace(`releases/${RELEASE}/`, '')}/Packages`,
      '/.mirror/',
      '/.hidden',
      `/${core}/.lock`,
      '/status.json.tmp',
      '/%2emirror/state.json',
      '/releases/../.mirror/state.json',
    ]) {
      const reply = await rawRequest(nginx.port, urlPath);
      expect(reply.status, urlPath).to.equal(404);
      expect(reply.text, urlPath).not.to.match(
        /half a download|validators|pooled|Package:|hidden|half-written/,
      );
    }
  });

  it('refuses paths that climb out of the served root', async () => {
    for (const urlPath of [
      '/releases/../../etc/passwd',
      '/../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/releases/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/releases/..%2f..%2f..%2fetc/passwd',
      `/releases/${RELEASE}/../../../../etc/passwd`,
      '//etc/passwd',
    ]) {
      const reply = await rawRequest(nginx.port, urlPath);
      expect([400, 404], urlPath).to.include(reply.status);
      expect(reply.text, urlPath).not.to.include('root:');
    }
  });

  it('serves a file whose name has a ~ whether the client sends it raw or as %7e', async () => {
    const raw = await rawRequest(nginx.port, `/${tree.apk}`);
    const encoded = await rawRequest(nginx.port, `/${tree.apk.replace('~', '%7e')}`);
    expect(raw.status).to.equal(200);
    expect(encoded.status).to.equal(200);
  });

  it('fills /distfeeds.conf with the host and port each client used', async () => {
    const lines = (host: string) =>
      FEEDS.map((feed) => `src/gz ${feed.name} http://${host}/${feed.dir}`)
        .join('\n')
        .concat('\n');

    const byName = await get('/distfeeds.conf', { Host: 'a.example:8080', 'Accept-Encoding': 'gzip' });
    expect(byName.status).to.equal(200);
    expect(byName.headers['content-type']).to.match(/^text\/plain/);
    expect(byName.headers['content-encoding']).to.equal(undefined);
    expect(byName.body.toString()).to.equal(lines('a.example:8080'));

    const byAddress = await get('/distfeeds.conf', { Host: '10.0.0.5' });
    expect(byAddress.body.toString()).to.equal(lines('10.0.0.5'));
  });

  it('fills in every well-formed Host as it came: names, addresses, IPv6, with or without a port', async () => {
    const list = path.join(dir, 'distfeeds.list');
    await fs.writeFile(list, `${PLACEHOLDER}/releases/25.12.0/packages/mipsel_24kc/base/packages.adb\n`);
    try {
      for (const host of [
        'mirror.lab:8080',
        'mirror.lab',
        'Mirror.Lab.:80',
        'node_1.lab:65535',
        '192.168.1.10:8080',
        '10.0.0.5',
        '[fd00::1]:8080',
        '[::ffff:10.0.0.5]',
      ]) {
        const feeds = await get('/distfeeds.conf', { Host: host });
        expect(feeds.body.toString(), host).to.equal(
          `${FEEDS.map((feed) => `src/gz ${feed.name} http://${host}/${feed.dir}`).join('\n')}\n`,
        );
        expect((await get('/distfeeds.list', { Host: host })).body.toString(), host).to.equal(
          `http://${host}/releases/25.12.0/packages/mipsel_24kc/base/packages.adb\n`,
        );
        expect((await get('/setup.sh', { Host: host })).body.toString(), host).to.include(
          `\nMIRROR='http://${host}'\n`,
        );
      }
    } finally {
      await fs.rm(list);
    }
  });

  it('puts its own address, not a malformed Host, into setup.sh and the feed lines', async () => {
    const list = path.join(dir, 'distfeeds.list');
    await fs.writeFile(list, `${PLACEHOLDER}/releases/25.12.0/packages/mipsel_24kc/base/packages.adb\n`);
    const own = `127.0.0.1:${nginx.port}`;
    try {
      let filledIn = 0;
      for (const host of [...HOSTILE_HOSTS, 'mirror..lab', 'mirror.lab:123456', 'mirror.lab:', '[fd00::1']) {
        for (const file of ['/setup.sh', '/distfeeds.conf', '/distfeeds.list', '/']) {
          const reply = await rawRequest(nginx.port, file, { host });
          const what = `${file} for Host: ${host}`;
          // nginx answers some of these with 400 itself; what matters is that no hostile text is served.
          expect([200, 400], what).to.include(reply.status);
          expect(reply.text, what).not.to.include('PWNED');
          if (reply.status !== 200) continue;
          filledIn++;
          expect(reply.text, what).not.to.include(host);
          expect(reply.text, what).to.include(
            file === '/setup.sh' ? `\nMIRROR='http://${own}'\n` : `http://${own}/releases/`,
          );
        }
      }
      expect(filledIn, 'hosts nginx let through').to.be.greaterThan(20);

      // HTTP/1.0 without a Host: the address the client connected to.
      const bare = await rawRequest(nginx.port, '/distfeeds.conf', { host: null });
      expect(bare.status).to.equal(200);
      expect(bare.text).to.include(`src/gz openwrt_core http://${own}/${core}\n`);
    } finally {
      await fs.rm(list);
    }
  });

  it('fills /distfeeds.list for an apk release, and answers 404 while there is none', async () => {
    expect((await get('/distfeeds.list')).status).to.equal(404);
    const list = path.join(dir, 'distfeeds.list');
    await fs.writeFile(list, `${PLACEHOLDER}/releases/25.12.0/targets/ramips/mt7621/packages/packages.adb\n`);
    try {
      const reply = await get('/distfeeds.list', { Host: 'mirror.lan:8080' });
      expect(reply.status).to.equal(200);
      expect(reply.body.toString()).to.equal(
        'http://mirror.lan:8080/releases/25.12.0/targets/ramips/mt7621/packages/packages.adb\n',
      );
    } finally {
      await fs.rm(list);
    }
  });

  it('serves /setup.sh with the URL the node used filled in', async () => {
    const reply = await get('/setup.sh', { Host: 'mirror.lan:8080' });
    expect(reply.status).to.equal(200);
    expect(reply.body.toString()).to.match(/^#!\/bin\/sh\n/);
    expect(reply.body.toString()).to.include("MIRROR='http://mirror.lan:8080'");
    expect(reply.body.toString()).not.to.include(PLACEHOLDER);
  });

  it('shows a landing page whose script reads status.json and the feed lines', async () => {
    const reply = await get('/');
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-type']).to.match(/^text\/html/);
    const page = reply.body.toString();
    expect(page).to.include('/setup.sh | sh');
    expect(page).to.include('<script type="module" src="/app.js"></script>');
    expect(page).to.include('<link rel="stylesheet" href="/style.css">');
    const script = await get('/app.js');
    expect(script.status).to.equal(200);
    expect(script.headers['content-type']).to.match(/^(application|text)\/javascript/);
    expect(script.body.toString()).to.include("fetch('/status.json'");
    const style = await get('/style.css');
    expect(style.status).to.equal(200);
    expect(style.headers['content-type']).to.match(/^text\/css/);
    expect(style.body.toString()).to.include('font:');
  });

  it('gives the landing page a strict Content-Security-Policy, no framing and no referrer', async () => {
    const reply = await get('/');
    const csp = reply.headers['content-security-policy'] as string;
    const directives = new Map(
      csp.split(';').map((directive) => {
        const [name, ...values] = directive.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    expect(directives.get('default-src'), csp).to.equal("'none'");
    expect(directives.get('script-src'), csp).to.equal("'self'");
    expect(directives.get('style-src'), csp).to.equal("'self'");
    expect(directives.get('connect-src'), csp).to.equal("'self'");
    expect(directives.get('frame-ancestors'), csp).to.equal("'none'");
    expect(csp).not.to.include('unsafe');
    expect(reply.headers['x-frame-options']).to.equal('DENY');
    expect(reply.headers['referrer-policy']).to.equal('no-referrer');
    expect(reply.headers['x-content-type-options']).to.equal('nosniff');

    // Nothing inline that the policy would block: the page works as it is served.
    const page = reply.body.toString();
    expect(page).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(page).not.to.match(/<style|\sstyle=|\son[a-z]+=|javascript:/i);
  });

  it('sends nosniff, no framing and a policy on every kind of response', async () => {
    const first = await get(`/${core}/Packages.gz`);
    const replies: [string, Promise<{ status: number; headers: Record<string, unknown> }>][] = [
      ['page', get('/')],
      ['script', get('/app.js')],
      ['package', get(`/${tree.ipk}`)],
      ['index', get(`/${core}/Packages`)],
      ['range', get(`/${tree.image}`, { Range: 'bytes=0-9' })],
      ['revalidated', get(`/${core}/Packages.gz`, { 'If-None-Match': first.headers.etag as string })],
      ['listing', get(`/${core}/`)],
      ['redirect', get('/releases')],
      ['planted file link', get(`/${FEEDS[1].dir}/passwd.ipk`)],
      ['planted directory link', get(`/${FEEDS[1].dir}/host-etc/`)],
      ['missing file', get(`/${core}/nothing.ipk`)],
      ['hidden file', get('/.mirror/state.json')],
      ['status', get('/status.json')],
      ['metrics', get('/metrics')],
      ['feed lines', get('/distfeeds.conf')],
      ['no apk feed lines', get('/distfeeds.list')],
      ['setup script', get('/setup.sh')],
      ['health', get('/healthz')],
    ];
    const statuses = new Set<number>();
    for (const [what, reply] of replies) {
      const { status, headers } = await reply;
      statuses.add(status);
      expect(headers['x-content-type-options'], `${what} (${status})`).to.equal('nosniff');
      expect(headers['x-frame-options'], `${what} (${status})`).to.equal('DENY');
      expect(headers['content-security-policy'], `${what} (${status})`).to.be.a('string');
    }
    expect([...statuses]).to.include.members([200, 206, 301, 304, 404]);

    // What nginx refuses before any location is chosen.
    for (const refused of [
      await rawRequest(nginx.port, '/../etc/passwd'),
      await rawRequest(nginx.port, 'x'),
    ]) {
      expect(refused.status).to.equal(400);
      expect(rawHeader(refused.text, 'X-Content-Type-Options')).to.equal('nosniff');
      expect(rawHeader(refused.text, 'Content-Security-Policy')).to.equal(SANDBOX);
    }
  });

  it('serves what a feed holds as bytes, never as a page: no active type, and sandboxed', async () => {
    for (const [name, content] of Object.entries(ACTIVE_FILES)) {
      const urlPath = `/${FEEDS[2].dir}/${name}`;
      const reply = await get(urlPath);
      expect(reply.status, urlPath).to.equal(200);
      expect(reply.body.toString(), urlPath).to.equal(content);
      expect(reply.headers['content-type'], urlPath).not.to.match(/html|xml|svg|script/i);
      expect(reply.headers['x-content-type-options'], urlPath).to.equal('nosniff');
      expect(reply.headers['content-security-policy'], urlPath).to.equal(SANDBOX);
    }
    for (const urlPath of [`/${core}/Packages`, `/${tree.ipk}`, '/status.json', '/distfeeds.conf']) {
      expect((await get(urlPath)).headers['content-security-policy'], urlPath).to.equal(SANDBOX);
    }
    // A listing is sandboxed too, but may start downloads: browsers refuse to save a clicked image else.
    for (const listing of ['/releases/', `/releases/${RELEASE}/`, `/${FEEDS[2].dir}/`]) {
      const reply = await get(listing);
      expect(reply.status, listing).to.equal(200);
      expect(reply.headers['content-type'], listing).to.match(/^text\/html/);
      expect(reply.headers['content-security-policy'], listing).to.equal(`${SANDBOX} allow-downloads`);
    }
  });

  it('follows no symlink below releases/<version> nor anywhere else in the root', async () => {
    expect(links.length).to.be.greaterThan(5);
    for (const link of links) {
      const reply = await rawRequest(nginx.port, `/${link.urlPath}`);
      expect(reply.status, link.urlPath).not.to.equal(200);
      expect(reply.text, link.urlPath).not.to.include(link.leaks);
    }
  });

  it('does not follow releases/ itself when it is a symlink', async () => {
    const releases = path.join(dir, 'releases');
    await fs.rename(releases, `${releases}.real`);
    await fs.symlink('/etc', releases);
    try {
      for (const urlPath of [
        '/releases/',
        '/releases/passwd',
        '/releases/passwd/',
        '/releases/ssl/',
        `/${core}/Packages`,
      ]) {
        const reply = await rawRequest(nginx.port, urlPath);
        expect(reply.status, urlPath).not.to.equal(200);
        const body = reply.text.slice(reply.text.indexOf('\r\n\r\n'));
        expect(body, urlPath).not.to.match(/root:|passwd|openssl/);
      }
    } finally {
      await fs.rm(releases);
      await fs.rename(`${releases}.real`, releases);
    }
  });

  it('does not serve status.json, metrics or distfeeds.conf when it is a symlink', async () => {
    const secret = path.join(dir, '.mirror/state.json');
    for (const name of ['status.json', 'metrics', 'distfeeds.conf']) {
      const file = path.join(dir, name);
      await fs.rename(file, `${file}.real`);
      await fs.symlink(secret, file);
      try {
        const reply = await rawRequest(nginx.port, `/${name}`);
        expect(reply.status, name).not.to.equal(200);
        expect(reply.text, name).not.to.include('validators');
      } finally {
        await fs.rm(file);
        await fs.rename(`${file}.real`, file);
      }
    }
  });

  it('still serves every real file of the tree through the release link', async () => {
    const servable = [...tree.files].filter(([urlPath]) => !/(^|\/)\.|\.tmp$/.test(urlPath));
    expect(servable.length).to.be.greaterThan(40);
    for (const [urlPath, bytes] of servable) {
      const reply = await get(`/${urlPath}`);
      expect(reply.status, urlPath).to.equal(200);
      // Feed lines are filled in with the host; every other file goes out as it is.
      if (!urlPath.endsWith('distfeeds.conf')) expect(reply.body.equals(bytes), urlPath).to.equal(true);
    }
    for (const listing of ['/releases/', `/releases/${RELEASE}/`, ...FEEDS.map((feed) => `/${feed.dir}/`)]) {
      expect((await get(listing)).status, listing).to.equal(200);
    }
  });

  it('answers /healthz with ok', async () => {
    const reply = await get('/healthz');
    expect(reply.status).to.equal(200);
    expect(reply.body.toString().trim()).to.equal('ok');
  });

  it('substitutes only its own variables into the template, leaving nginx variables alone', () => {
    expect(nginx.config).not.to.match(
      /\$\{[A-Z_]+\}|\$(MIRROR_ROOT|LISTEN_PORT|NGINX_STATIC|ONDEMAND_URL)\b/,
    );
    expect(nginx.config).to.include('$scheme://$mirror_authority');
    expect(nginx.config).to.include(`root ${dir};`);
  });
});

describe('nginx before the first sync has finished', () => {
  let dir: string;
  let nginx: RunningNginx;

  before(async () => {
    // A first sync in progress on a fresh volume: the worker has made its directories, nothing more.
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-empty-'));
    await fs.mkdir(path.join(dir, 'releases'));
    await fs.mkdir(path.join(dir, '.mirror/tmp'), { recursive: true });
    nginx = await startNginx({ mirrorRoot: dir });
  });

  after(async () => {
    await nginx?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers /distfeeds.conf with 503 and says why', async () => {
    const reply = await request(`${nginx.url}/distfeeds.conf`);
    expect(reply.status).to.equal(503);
    expect(reply.headers['retry-after']).to.equal('300');
    expect(reply.headers['cache-control']).to.equal('no-store');
    expect(reply.headers['x-content-type-options']).to.equal('nosniff');
    expect(reply.headers['content-security-policy']).to.equal(SANDBOX);
    expect(reply.body.toString()).to.include('no sync has published yet');
  });

  it('still shows the landing page and has no status.json yet', async () => {
    expect((await request(`${nginx.url}/`)).status).to.equal(200);
    expect((await request(`${nginx.url}/status.json`)).status).to.equal(404);
  });

  it('answers /healthz without touching the disk, even with no mirror directory at all', async () => {
    const missing = await startNginx({ mirrorRoot: path.join(dir, 'not-there') });
    try {
      const reply = await request(`${missing.url}/healthz`);
      expect(reply.status).to.equal(200);
      expect(reply.body.toString()).to.equal('ok\n');
    } finally {
      await missing.stop();
    }
  });
});

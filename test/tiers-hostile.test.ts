/**
 * A hostile central (the upstream a site mirrors) answering /lastsync with anything: garbage, a
 * huge or endless body, dates in the future or from 1973. The site's sync must go on, show no
 * freshness it was not given, and keep its own /lastsync and trace.json well formed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('attack: a hostile upstream /lastsync', function () {
  this.timeout(180_000);
  let h: Harness;

  before(async () => {
    h = await createHarness();
  });
  after(async () => {
    await h?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const bodies: [string, Buffer | 'endless', 'none' | 'given'][] = [
    ['garbage', Buffer.from('<html>not found</html>\n'), 'none'],
    ['a NUL and digits', Buffer.from('\u00001700000000\n'), 'none'],
    ['two numbers', Buffer.from('1700000000\n1700000001\n'), 'none'],
    ['negative', Buffer.from('-1700000000\n'), 'none'],
    ['a day ahead', Buffer.from(`${now() + 86_400}\n`), 'none'],
    ['year 5138', Buffer.from('99999999999\n'), 'none'],
    ['1 MB of digits', Buffer.alloc(1024 * 1024, '1'), 'none'],
    ['1 MB of spaces around a good date', Buffer.from(`${' '.repeat(1024 * 1024)}${now() - 60}\n`), 'none'],
    ['an endless body', 'endless', 'none'],
    ['a good date', Buffer.from(`${now() - 60}\n`), 'given'],
  ];

  for (const [what, body, expected] of bodies) {
    it(`${what}: the sync goes on, and the site shows ${expected === 'none' ? 'no' : 'the'} upstream last sync`, async () => {
      h.upstream.clearFaults();
      if (body === 'endless') h.upstream.fault({ match: 'lastsync', kind: 'endless' });
      else h.upstream.files.set('lastsync', body);
      // Asked every run: not remembered as missing (it answered).
      await fs.rm(path.join(h.mirrorDir, '.mirror/upstream-lastsync.json'), { force: true });
      const started = Date.now();
      const run = await h.sync();
      expect(run.exitCode, run.report.failures.map((f) => f.reason).join('\n')).to.equal(0);
      expect(Date.now() - started, 'not held up by the body').to.be.below(30_000);
      const status = JSON.parse(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8'));
      const trace = JSON.parse(await fs.readFile(path.join(h.mirrorDir, 'trace.json'), 'utf8'));
      if (expected === 'none') {
        expect(status.mirror.upstreamLastSync, 'status').to.equal(undefined);
        expect(trace.upstreamLastSync, 'trace').to.equal(undefined);
      } else {
        // The date the body holds, exactly (the bodies were made when the file was loaded).
        expect(Date.parse(status.mirror.upstreamLastSync) / 1000).to.equal(Number(String(body).trim()));
        expect(trace.upstreamLastSync).to.equal(status.mirror.upstreamLastSync);
      }
      const own = (await fs.readFile(path.join(h.mirrorDir, 'lastsync'), 'utf8')).trim();
      expect(own).to.match(/^\d{10}$/);
      expect(Math.abs(Number(own) - now())).to.be.below(600);
    });
  }
});

/**
 * Notifications, against a real HTTP receiver and a real SMTP server (smtp-server): a failure says
 * "failed", a recovery "recovered", changes and new releases when asked for; a notifier that fails
 * is tried once more and never fails the sync; bad values are configuration errors.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../worker/config.js';
import { ConfigError } from '../worker/errors.js';
import { noticesFor, type RunForNotice } from '../worker/notify/notices.js';
import { newReleasesIn } from '../worker/notify/releases.js';
import { capturingLogger } from './helpers/log-capture.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

interface Received {
  webhook: { text: string; event: string }[];
  mail: { from: string; to: string[]; raw: string }[];
}

/** A webhook receiver (answering with `status()` each time) and an SMTP server, both on 127.0.0.1. */
async function startReceivers(status: () => number = () => 200) {
  const received: Received = { webhook: [], mail: [] };
  const web = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const code = status();
      if (code === 200) received.webhook.push(JSON.parse(body));
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => {
        raw += chunk.toString();
      });
      stream.on('end', () => {
        received.mail.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  return {
    received,
    env: {
      NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(web.address() as AddressInfo).port}/hooks/lab?token=s3cret`,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      NOTIFY_EMAIL_TO: 'lab@example.org, ops@example.org',
      NOTIFY_EMAIL_FROM: 'mirror@example.org',
    },
    async close() {
      await new Promise((resolve) => web.close(resolve));
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    },
  };
}

const subjectOf = (raw: string) => /^Subject: (.*)$/m.exec(raw)?.[1] ?? '';

describe('notifications', function () {
  this.timeout(60_000);
  let h: Harness;
  let receivers: Awaited<ReturnType<typeof startReceivers>> | undefined;

  afterEach(async () => {
    await receivers?.close();
    receivers = undefined;
    await h?.close();
  });

  it('tells of a failed sync by webhook and e-mail, then of its recovery; a success alone says nothing by default', async () => {
    receivers = await startReceivers();
    h = await createHarness({ env: { ...receivers.env } });
    expect((await h.sync()).exitCode).to.equal(0);
    expect(receivers.received.webhook, 'a first success is no news').to.deep.equal([]);

    const files = new Map(h.upstream.files);
    h.upstream.files.clear();
    expect((await h.sync()).exitCode).to.equal(1);
    const [failure] = receivers.received.webhook;
    expect(failure?.event).to.equal('failure');
    expect(failure?.text)
      .to.match(/^openwrt-mirror: sync failed: /)
      .and.contain('24.10.4 ramips/mt7621');
    expect(receivers.received.mail).to.have.length(1);
    const mail = receivers.received.mail[0] as Received['mail'][number];
    expect(mail.from).to.equal('mirror@example.org');
    expect(mail.to).to.deep.equal(['lab@example.org', 'ops@example.org']);
    expect(subjectOf(mail.raw)).to.match(/^openwrt-mirror: sync failed: /);
    expect(mail.raw).to.contain('What was served before stays served.');

    h.upstream.setFiles(files);
    expect((await h.sync()).exitCode).to.equal(0);
    expect(receivers.received.webhook.map((w) => w.event)).to.deep.equal(['failure', 'recovery']);
    expect(receivers.received.webhook[1]?.text).to.match(/^openwrt-mirror: sync recovered\n/);
    expect(subjectOf(receivers.received.mail[1]?.raw ?? '')).to.equal('openwrt-mirror: sync recovered');
  });

  it('tells of each success and of what changed when NOTIFY_ON asks, a one-off sync from the command line too', async () => {
    receivers = await startReceivers();
    h = await createHarness({
      env: { ...receivers.env, NOTIFY_ON: 'success,change', SMTP_URL: '', NOTIFY_EMAIL_TO: '' },
    });
    const first = await runCli(['sync'], h.env);
    expect(first.code, first.stderr).to.equal(0);
    expect(receivers.received.webhook.map((w) => w.event)).to.deep.equal(['success', 'change']);
    expect(receivers.received.webhook[1]?.text).to.match(
      /^openwrt-mirror: \d+ added, 0 updated, 0 removed, 3 images changed\n/,
    );
    h.moveTo(1);
    expect((await h.sync()).exitCode).to.equal(0);
    const change = receivers.received.webhook.at(-1);
    expect(change?.event).to.equal('change');
    expect(change?.text).to.match(/ → /);
    expect(receivers.received.mail).to.deep.equal([]);
  });

  it('tries a failing receiver once more, and a notifier that keeps failing never fails the sync', async () => {
    let calls = 0;
    receivers = await startReceivers(() => (++calls === 1 ? 503 : 200));
    h = await createHarness({
      env: { ...receivers.env, NOTIFY_ON: 'success', SMTP_URL: '', NOTIFY_EMAIL_TO: '' },
    });
    const { logger, lines } = capturingLogger();
    expect((await h.sync({}, { logger })).exitCode).to.equal(0);
    expect(calls).to.equal(2);
    expect(receivers.received.webhook).to.have.length(1);
    expect(lines().some((l) => /failed \(HTTP 503\); trying once more/.test(l.message))).to.be.true;
    // The secret in the webhook's URL is never logged.
    expect(lines().some((l) => l.message.includes('s3cret'))).to.be.false;

    await receivers.close();
    receivers = undefined;
    const down = await createHarness({
      env: {
        NOTIFY_ON: 'success',
        NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
        SMTP_URL: 'smtp://127.0.0.1:9',
        NOTIFY_EMAIL_TO: 'a@b.c',
      },
    });
    try {
      const quiet = capturingLogger();
      expect((await down.sync({}, { logger: quiet.logger })).exitCode).to.equal(0);
      const errors = quiet
        .lines()
        .filter((l) => l.level === 'error')
        .map((l) => l.message);
      expect(errors.some((m) => m.startsWith('could not notify success by webhook 127.0.0.1:9'))).to.be.true;
      expect(errors.some((m) => m.startsWith('could not notify success by e-mail to a@b.c'))).to.be.true;
    } finally {
      await down.close();
    }
  });

  it('announces a newer release of a mirrored series once, and an upstream without .versions.json is no failure', async () => {
    receivers = await startReceivers();
    h = await createHarness({
      env: { ...receivers.env, NOTIFY_ON: 'new-release', SMTP_URL: '', NOTIFY_EMAIL_TO: '' },
    });
    expect((await h.sync()).exitCode).to.equal(0);
    expect(receivers.received.webhook).to.deep.equal([]);
    h.upstream.files.set(
      '.versions.json',
      Buffer.from(
        JSON.stringify({ stable_version: '24.10.5', versions_list: ['24.10.5', '24.10.4', '23.05.6'] }),
      ),
    );
    expect((await h.sync()).exitCode).to.equal(0);
    expect(receivers.received.webhook.map((w) => w.text.split('\n')[0])).to.deep.equal([
      'openwrt-mirror: OpenWrt 24.10.5 is out',
    ]);
    expect(receivers.received.webhook[0]?.text).to.contain('a newer 24.10 release than 24.10.4');
    expect((await h.sync()).exitCode).to.equal(0);
    expect(receivers.received.webhook, 'announced once').to.have.length(1);
  });

  it('decides the notices from the run alone', () => {
    const run: RunForNotice = {
      mirror: '24.10.4 ramips/mt7621',
      result: 'partial',
      startedAt: '2026-12-06T03:00:00.000Z',
      durationMs: 61_000,
      downloaded: 3,
      bytes: '1.0 MiB',
      failures: ['core: python3: HTTP 404'],
    };
    const all = ['failure', 'recovery', 'success', 'change', 'new-release'] as const;
    expect(noticesFor(all, run, []).map((n) => n.subject)).to.deep.equal([
      'openwrt-mirror: sync failed in part (the rest is published): core: python3: HTTP 404',
    ]);
    expect(
      noticesFor(['recovery'], { ...run, result: 'success', previousResult: 'failed' }, [])[0]?.text,
    ).to.contain('recovered: it succeeded in 61 s after a run that failed');
    expect(
      noticesFor(['failure', 'recovery'], { ...run, result: 'success', previousResult: 'success' }, []),
    ).to.deep.equal([]);
    expect(
      newReleasesIn({ stable_version: '25.12.1', versions_list: ['25.12.1', '24.10.5', '24.10.4'] }, [
        '24.10.4',
      ]),
    ).to.deep.equal([
      { version: '24.10.5', why: 'a newer 24.10 release than 24.10.4' },
      { version: '25.12.1', why: 'a new stable series; the newest mirrored is 24.10.4' },
    ]);
    expect(newReleasesIn({ versions_list: ['24.10.4', '24.10.3'] }, ['24.10.4'])).to.deep.equal([]);
    expect(newReleasesIn({}, ['24.10.4'])).to.deep.equal([]);
  });

  const bad: [Record<string, string>, string, RegExp][] = [
    [{ NOTIFY_ON: 'failure,sometimes' }, 'NOTIFY_ON', /bad item "sometimes"/],
    [{ NOTIFY_WEBHOOK_URL: 'ftp://hooks.example' }, 'NOTIFY_WEBHOOK_URL', /http:\/\/ or https:\/\//],
    [{ SMTP_URL: 'mail.lab:25', NOTIFY_EMAIL_TO: 'a@b.c' }, 'SMTP_URL', /smtp:\/\//],
    [{ SMTP_URL: 'smtp://mail.lab' }, 'NOTIFY_EMAIL_TO', /since SMTP_URL is set/],
    [{ NOTIFY_EMAIL_TO: 'a@b.c' }, 'SMTP_URL', /since NOTIFY_EMAIL_TO is set/],
    [
      { SMTP_URL: 'smtp://mail.lab', NOTIFY_EMAIL_TO: 'lab at example' },
      'NOTIFY_EMAIL_TO',
      /e-mail addresses/,
    ],
    [
      { SMTP_URL: 'smtp://mail.lab', NOTIFY_EMAIL_TO: 'a@b.c', NOTIFY_EMAIL_FROM: 'a@b.c,d@e.f' },
      'NOTIFY_EMAIL_FROM',
      /one e-mail address/,
    ],
  ];
  for (const [env, variable, says] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      let error: unknown;
      try {
        loadConfig(env, '/work');
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).variable).to.equal(variable);
      expect((error as Error).message).to.match(says);
    });
  }
});

/**
 * Sends notices: a JSON POST with a `text` field to NOTIFY_WEBHOOK_URL (Slack, Mattermost and ntfy
 * take it as it is), and e-mail through SMTP_URL with nodemailer. A channel that fails is tried once
 * more, then logged; a notice never fails the sync that sent it.
 */
import type { NotifyConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Notice } from './notices.js';

/** How long one attempt may take. */
const ATTEMPT_MS = 15_000;
/** Between the attempt that failed and the one more. */
const RETRY_AFTER_MS = 2_000;

export async function deliver(config: NotifyConfig, notices: Notice[], logger: Logger): Promise<void> {
  if (notices.length === 0) return;
  const channels: { name: string; send: (notice: Notice) => Promise<void> }[] = [];
  if (config.webhookUrl) {
    const url = config.webhookUrl;
    channels.push({ name: `webhook ${redact(url)}`, send: (notice) => postWebhook(url, notice) });
  }
  if (config.smtpUrl) {
    // Loaded only when mail is configured: it is a tenth of a second of every run's start-up.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      url: config.smtpUrl,
      connectionTimeout: ATTEMPT_MS,
      greetingTimeout: ATTEMPT_MS,
      socketTimeout: ATTEMPT_MS,
    });
    channels.push({
      name: `e-mail to ${config.emailTo.join(', ')}`,
      send: async (notice) => {
        await transport.sendMail({
          from: config.emailFrom,
          to: config.emailTo,
          subject: notice.subject,
          text: `${notice.text}\n`,
        });
      },
    });
  }
  for (const notice of notices) {
    for (const channel of channels) {
      for (let attempt = 1; ; attempt++) {
        try {
          await channel.send(notice);
          logger.info(`notified ${notice.event} by ${channel.name}`, { phase: 'notify' });
          break;
        } catch (error) {
          const why = (error as Error).message;
          if (attempt >= 2) {
            logger.error(`could not notify ${notice.event} by ${channel.name}: ${why}`, { phase: 'notify' });
            break;
          }
          logger.warn(`notifying ${notice.event} by ${channel.name} failed (${why}); trying once more`, {
            phase: 'notify',
          });
          await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
        }
      }
    }
  }
}

async function postWebhook(url: string, notice: Notice): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: `${notice.subject}\n${notice.text}`, event: notice.event }),
    signal: AbortSignal.timeout(ATTEMPT_MS),
  });
  // The body is not needed; reading it frees the connection.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}

/** A webhook URL often holds its secret: logs name the host only. */
function redact(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'webhook';
  }
}

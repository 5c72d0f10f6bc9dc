/**
 * MIRROR_DIR/metrics: status.json as Prometheus text (exposition format 0.0.4), served by nginx at
 * /metrics. Rendered from the status alone, so the worker can refresh the next-run time without a
 * sync. Per-run numbers are gauges, not counters: each run starts from zero, and `rate()` over a
 * counter that resets every night would mislead.
 */
import type { DownloadsSummary } from '../downloads/tally.js';
import type { UpstreamFaultKind } from '../errors.js';
import { byCodeUnits } from '../order.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { StatusFile } from './status-file.js';

export const METRICS_FILE = 'metrics';

const PREFIX = 'openwrt_mirror_';
const RESULTS = ['success', 'partial', 'failed'] as const;
const OUTCOMES = ['downloaded', 'skipped', 'failed'] as const;
const UPSTREAM_ERROR_KINDS: readonly UpstreamFaultKind[] = [
  'http',
  'network',
  'timeout',
  'short-body',
  'integrity',
  'aborted',
];

type Labels = Record<string, string | undefined>;

interface Sample {
  labels?: Labels;
  value: number;
}

export function renderMetrics(status: StatusFile): string {
  const { mirror, served, lastRun } = status;
  const out: string[] = [];
  const metric =
    (type: 'gauge' | 'counter'): Metric =>
    (name, help, samples) => {
      out.push(`# HELP ${PREFIX}${name} ${escapeHelp(help)}`, `# TYPE ${PREFIX}${name} ${type}`);
      for (const sample of Array.isArray(samples) ? samples : [samples]) {
        out.push(`${PREFIX}${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
      }
    };
  const gauge = metric('gauge');

  const sets = status.sets ?? [];
  gauge(
    'info',
    'What this mirror serves, one sample per set (release × target); always 1.',
    sets.length > 0
      ? sets.map((set) => ({
          labels: {
            release: set.release,
            target: set.target,
            arch: set.arch,
            format: set.format,
            mode: set.mode,
            upstream: mirror.upstream,
            generation: set.generation,
            state: set.state,
          },
          value: 1,
        }))
      : { labels: { upstream: mirror.upstream }, value: 1 },
  );
  gauge(
    'last_success_timestamp_seconds',
    'When the last sync that had no failure finished (Unix time); 0 when none has yet.',
    { value: seconds(status.lastSuccessAt) ?? 0 },
  );
  const running = status.running;
  gauge('sync_running', 'Whether a sync is running: 1 while status.json has `running`, else 0.', {
    value: running ? 1 : 0,
  });
  if (running) {
    gauge(
      'sync_progress_files',
      "Downloads of the running sync's current release, by state: done and total.",
      [
        { labels: { state: 'done' }, value: running.filesDone },
        { labels: { state: 'total' }, value: running.filesTotal },
      ],
    );
    gauge('sync_progress_bytes', 'Bytes of those downloads: received and total.', [
      { labels: { state: 'done' }, value: running.bytesDone },
      { labels: { state: 'total' }, value: running.bytesTotal },
    ]);
    gauge('sync_progress_bytes_per_second', 'Download rate of the running sync over the last seconds.', {
      value: running.bytesPerSecond,
    });
    if (running.etaSeconds !== undefined)
      gauge('sync_progress_eta_seconds', "Time left for the running sync's downloads at that rate.", {
        value: running.etaSeconds,
      });
    gauge(
      'sync_progress_updated_timestamp_seconds',
      'When the running sync last wrote its progress (Unix time).',
      {
        value: seconds(running.updatedAt) ?? Number.NaN,
      },
    );
  }
  const worker = status.worker;
  if (worker?.heartbeatAt !== undefined)
    gauge(
      'worker_heartbeat_timestamp_seconds',
      "The worker's last heartbeat (Unix time); it beats every worker.heartbeatSeconds.",
      {
        value: seconds(worker.heartbeatAt) ?? Number.NaN,
      },
    );
  gauge(
    'worker_config_error',
    'Whether the worker refused its configuration (status.json worker.configError): 1 or 0.',
    {
      value: worker?.configError ? 1 : 0,
    },
  );
  if (lastRun) lastRunGauges(gauge, lastRun);
  gauge('feeds', 'Package feeds served.', { value: status.feeds.length });
  const perSetFeed = sets.flatMap((set) =>
    set.feeds.map((feed) => ({
      labels: { release: set.release, target: set.target, feed: feed.distName },
      feed,
    })),
  );
  gauge(
    'feed_packages',
    'Package files served per feed of each set (an arch feed two sets share is counted in both).',
    perSetFeed.map(({ labels, feed }) => ({ labels, value: feed.packages })),
  );
  gauge(
    'feed_bytes',
    'Bytes of the package files served per feed of each set.',
    perSetFeed.map(({ labels, feed }) => ({ labels, value: feed.bytes })),
  );
  const perSet = (value: (set: (typeof sets)[number]) => number) =>
    sets.map((set) => ({ labels: { release: set.release, target: set.target }, value: value(set) }));
  gauge(
    'set_packages',
    'Package files served for each set.',
    perSet((set) => set.served.packages),
  );
  gauge(
    'set_images',
    'Firmware images served for each set.',
    perSet((set) => set.served.images),
  );
  gauge(
    'set_bytes',
    "Bytes of each set's files (its feeds and its target directory).",
    perSet((set) => set.served.bytes),
  );
  gauge('served_packages', 'Package files served, all feeds.', { value: served.packages });
  gauge('images', 'Firmware images served.', { value: served.images });
  gauge('served_files', 'Files served: indexes, packages, images, checksums.', { value: served.files });
  gauge('served_bytes', 'Bytes of every file served.', { value: served.bytes });
  if (status.downloads) downloadMetrics(gauge, metric('counter'), status.downloads);
  const next = seconds(status.nextRunAt);
  if (next !== undefined) {
    gauge('next_run_timestamp_seconds', 'When the worker runs the next scheduled sync (Unix time).', {
      value: next,
    });
  }
  return `${out.join('\n')}\n`;
}

type Metric = (name: string, help: string, samples: Sample | Sample[]) => void;

/**
 * What the routers fetched (status.json `downloads`, counted by the worker from nginx's access log):
 * real counters, since they only grow; a restart of the worker keeps them (.mirror/downloads.json).
 */
function downloadMetrics(gauge: Metric, counter: Metric, downloads: DownloadsSummary): void {
  const { totals } = downloads;
  counter('downloads_requests_total', 'GET requests nginx logged, whatever the answer.', [
    { value: totals.requests },
  ]);
  counter('downloads_bytes_total', 'Bytes nginx sent in answer to them.', [{ value: totals.bytes }]);
  counter('downloads_not_found_total', 'Requests answered 404.', [{ value: totals.notFound }]);
  counter('downloads_packages_total', 'Package files served.', [{ value: totals.packages }]);
  counter(
    'downloads_updates_total',
    "Updates nodes ran (`opkg update`, `apk update`): a node's index requests within a minute count once.",
    (['opkg', 'apk'] as const).map((manager) => ({ labels: { manager }, value: totals.updates[manager] })),
  );
  const feeds = Object.entries(totals.feeds).sort(([a], [b]) => byCodeUnits(a, b));
  counter(
    'downloads_feed_requests_total',
    'Indexes and packages served per feed directory.',
    feeds.map(([feed, [requests]]) => ({ labels: { feed }, value: requests })),
  );
  counter(
    'downloads_feed_bytes_total',
    'Bytes of indexes and packages served per feed directory.',
    feeds.map(([feed, [, bytes]]) => ({ labels: { feed }, value: bytes })),
  );
  const last = downloads.days.at(-1);
  gauge(
    'downloads_clients_last_day',
    'Distinct client addresses on the last day requests were logged (status.json downloads.days).',
    { value: last?.clients ?? 0 },
  );
}

/** The last finished run's figures; absent while the first sync runs. */
function lastRunGauges(gauge: Metric, lastRun: NonNullable<StatusFile['lastRun']>): void {
  gauge('last_run_start_timestamp_seconds', 'When the last sync started (Unix time).', {
    value: seconds(lastRun.startedAt) ?? Number.NaN,
  });
  const finished = seconds(lastRun.finishedAt);
  if (finished !== undefined) {
    gauge('last_run_end_timestamp_seconds', 'When the last sync finished (Unix time).', { value: finished });
  }
  if (lastRun.durationMs !== undefined) {
    gauge('last_run_duration_seconds', 'How long the last sync took.', { value: lastRun.durationMs / 1000 });
  }
  gauge(
    'last_run_result',
    'The result of the last sync: 1 for the label that applies, 0 for the others.',
    RESULTS.map((result) => ({ labels: { result }, value: lastRun.result === result ? 1 : 0 })),
  );
  gauge('last_run_planned_files', 'Package and image files the last sync wanted served.', {
    value: lastRun.planned,
  });
  gauge(
    'last_run_files',
    'Files of the last sync by outcome: downloaded, skipped (already verified in the pool), failed.',
    OUTCOMES.map((outcome) => ({ labels: { outcome }, value: lastRun[outcome] })),
  );
  gauge('last_run_downloaded_bytes', 'Bytes of the files the last sync downloaded and verified.', {
    value: lastRun.bytes,
  });
  gauge('last_run_failures', 'Failures the last sync reported (status.json lastRun.failures).', {
    value: lastRun.failures.length,
  });
  gauge('last_run_warnings', 'Warnings the last sync reported (status.json lastRun.warnings).', {
    value: lastRun.warnings.length,
  });
  const upstream = lastRun.upstream;
  gauge('last_run_upstream_requests', 'HTTP requests the last sync sent upstream, retries included.', {
    value: upstream?.requests ?? 0,
  });
  gauge('last_run_upstream_retries', 'Retries the last sync needed.', { value: upstream?.retries ?? 0 });
  gauge(
    'last_run_upstream_errors',
    'Failed upstream attempts of the last sync by kind, the retried ones included.',
    UPSTREAM_ERROR_KINDS.map((kind) => ({ labels: { kind }, value: upstream?.errors[kind] ?? 0 })),
  );
}

export async function writeMetrics(dir: MirrorDir, status: StatusFile): Promise<void> {
  await dir.writeAtomic(METRICS_FILE, renderMetrics(status));
}

function seconds(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

function formatLabels(labels: Labels | undefined): string {
  const pairs = Object.entries(labels ?? {}).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

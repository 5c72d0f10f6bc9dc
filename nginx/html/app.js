// The landing page's script: fills index.html in from /status.json and the feed lines. A file of its
// own, loaded as a module, because the page's Content-Security-Policy allows no inline script.
const $ = (id) => document.getElementById(id);
const base = window.location.origin;

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function size(bytes) {
  if (typeof bytes !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** `1 package`, `2 packages`, `? packages` when the count is unknown. */
function count(n, singular, plural = `${singular}s`) {
  if (typeof n !== 'number') return `? ${plural}`;
  return `${n} ${n === 1 ? singular : plural}`;
}

function when(iso) {
  if (!iso) return 'never';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toLocaleString()} (${iso})`;
}

function resultClass(result) {
  return { success: 'ok', updated: 'ok', unchanged: 'ok', partial: 'warn', kept: 'warn' }[result] || 'bad';
}

function showStatus(status) {
  const m = status.mirror || {};
  const served = status.served || {};
  $('summary').textContent =
    `OpenWrt ${m.release || '?'} · ${m.target || '?'} · ${m.arch || '?'} · ${m.format || 'opkg'} · ` +
    `${m.mode || '?'} mode · ${count(served.packages, 'package')}, ${count(served.images ?? 0, 'image')}, ` +
    `${size(served.bytes)} · from ${m.upstream || '?'}`;
  $('summary').className = '';
  if (m.format === 'apk') {
    $('feeds-file').textContent = '/etc/apk/repositories.d/distfeeds.list';
    $('feeds-link').href = '/distfeeds.list';
  }

  const run = status.lastRun;
  const rows = $('last-run');
  rows.textContent = '';
  if (run) {
    const facts = [
      ['result', run.result, resultClass(run.result)],
      ['finished', when(run.finishedAt)],
      ['took', typeof run.durationMs === 'number' ? `${(run.durationMs / 1000).toFixed(1)} s` : ''],
      [
        'files',
        `${run.downloaded ?? 0} downloaded, ${run.skipped ?? 0} already here, ${run.failed ?? 0} failed (${size(run.bytes)})`,
      ],
      ['last success', when(status.lastSuccessAt)],
      ['next run', when(status.nextRunAt)],
      ['generation', m.generation || ''],
    ];
    for (const [name, value, className] of facts) {
      const row = rows.insertRow();
      cell(row, name);
      cell(row, value, className);
    }
    const problems = $('problems');
    for (const failure of run.failures || []) {
      const item = document.createElement('li');
      item.className = 'bad';
      item.textContent = [failure.feed, failure.package || failure.file, failure.reason]
        .filter(Boolean)
        .join(': ');
      problems.append(item);
    }
    for (const warning of run.warnings || []) {
      const item = document.createElement('li');
      item.className = 'warn';
      item.textContent = warning;
      problems.append(item);
    }
  }

  for (const feed of status.feeds || []) {
    const row = $('feed-rows').insertRow();
    const name = cell(row, '');
    const link = document.createElement('a');
    link.href = `/${feed.path}/`;
    link.textContent = feed.distName || feed.name;
    name.append(link);
    cell(row, feed.state, resultClass(feed.state));
    cell(row, String(feed.packages ?? ''), 'num');
    cell(row, size(feed.bytes), 'num');
  }
  for (const image of status.images || []) {
    const row = $('image-rows').insertRow();
    const file = cell(row, '');
    const link = document.createElement('a');
    link.href = `/${image.path}`;
    link.textContent = image.path.split('/').pop();
    file.append(link);
    cell(row, [image.device, image.type].filter(Boolean).join(' '));
    cell(row, size(image.bytes), 'num');
  }
}

async function load() {
  $('setup-command').textContent = `wget -qO- ${base}/setup.sh | sh`;
  $('restore-command').textContent = `wget -qO- ${base}/setup.sh | sh -s -- --restore`;
  try {
    const response = await fetch('/status.json', { cache: 'no-store' });
    if (response.ok) showStatus(await response.json());
    else
      $('summary').textContent =
        'No sync has finished yet: the first one may still be running. Reload in a while.';
  } catch (error) {
    $('summary').textContent = `Could not read status.json: ${error}`;
  }
  const feedsPath = $('feeds-link').getAttribute('href');
  try {
    const response = await fetch(feedsPath, { cache: 'no-store' });
    $('feeds').textContent = response.ok
      ? await response.text()
      : (await response.text()) || `${feedsPath}: HTTP ${response.status}`;
  } catch (error) {
    $('feeds').textContent = `Could not read ${feedsPath}: ${error}`;
  }
}

load();

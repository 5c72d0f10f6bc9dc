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

/** `24.10.4 ramips/mt7621`: how the page names a set, as status and the worker's messages do. */
const label = (set) => `${set.release} ${set.target}`;

/** Where a set's feed lines go on a router, by package manager. */
const feedsFile = (format) =>
  format === 'apk' ? '/etc/apk/repositories.d/distfeeds.list' : '/etc/opkg/distfeeds.conf';

function showSummary(status, sets) {
  const m = status.mirror || {};
  const served = status.served || {};
  const what =
    sets.length === 1
      ? `OpenWrt ${sets[0].release} · ${sets[0].target} · ${sets[0].arch || '?'} · ${sets[0].format || 'opkg'} · ${sets[0].mode || '?'} mode`
      : `${count(sets.length, 'set')}: ${sets.map(label).join(', ')}`;
  $('summary').textContent =
    `${what} · ${count(served.packages, 'package')}, ${count(served.images ?? 0, 'image')}, ` +
    `${size(served.bytes)} · from ${m.upstream || '?'}` +
    (m.upstreamLastSync ? ` (which last synced ${when(m.upstreamLastSync)})` : '');
  const staleUpstream = m.upstreamLastSync && Date.now() - Date.parse(m.upstreamLastSync) > 86_400_000;
  $('summary').className = staleUpstream ? 'warn' : '';
}

function showSets(sets) {
  const rows = $('set-rows');
  if (sets.length === 0) return;
  rows.textContent = '';
  for (const set of sets) {
    const row = rows.insertRow();
    cell(row, set.release);
    cell(row, set.target);
    cell(row, set.arch || '');
    cell(row, `${set.format || 'opkg'}, ${set.mode || ''}`);
    const state =
      set.state === 'withdrawn' ? `withdrawn: served until ${when(set.withdrawnUntil)}` : set.state || '';
    cell(row, state, set.state === 'served' ? 'ok' : set.state === 'withdrawn' ? 'warn' : 'bad');
    const served = set.served || {};
    cell(row, String(served.packages ?? ''), 'num');
    cell(row, String(served.images ?? ''), 'num');
    cell(row, size(served.bytes), 'num');
  }
}

function showLastRun(status) {
  const run = status.lastRun;
  const rows = $('last-run');
  rows.textContent = '';
  if (!run) return;
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
  ];
  for (const [name, value, className] of facts) {
    const row = rows.insertRow();
    cell(row, name);
    cell(row, value, className);
  }
  const problems = $('problems');
  problems.textContent = '';
  for (const failure of run.failures || []) {
    const item = document.createElement('li');
    item.className = 'bad';
    item.textContent = [failure.set, failure.feed, failure.package || failure.file, failure.reason]
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

/** Each set's feeds (a shared arch feed under each set that uses it), and every image once. */
function showFeedsAndImages(status, sets) {
  const holder = $('feeds-by-set');
  holder.textContent = '';
  for (const set of sets) {
    if (sets.length > 1) {
      const heading = document.createElement('h3');
      heading.textContent = `${label(set)} (${set.arch || '?'}, ${set.generation ? `generation ${set.generation}` : 'not served'})`;
      holder.append(heading);
    }
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const [text, className] of [['feed'], ['state'], ['packages', 'num'], ['size', 'num']]) {
      const th = document.createElement('th');
      th.textContent = text;
      if (className) th.className = className;
      head.append(th);
    }
    const body = table.createTBody();
    for (const feed of set.feeds || []) {
      const row = body.insertRow();
      const name = cell(row, '');
      const link = document.createElement('a');
      link.href = `/${feed.path}/`;
      link.textContent = feed.distName || feed.name;
      name.append(link);
      cell(row, feed.state, resultClass(feed.state));
      cell(row, String(feed.packages ?? ''), 'num');
      cell(row, size(feed.bytes), 'num');
    }
    holder.append(table);
  }
  const imageRows = $('image-rows');
  imageRows.textContent = '';
  if ((status.images || []).length === 0) {
    const row = imageRows.insertRow();
    cell(row, 'No firmware image is mirrored (OPENWRT_DEVICES names the devices).', 'muted');
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

/** The feed lines of the chosen set, filled in by the server with the address this page was reached by. */
async function showFeedLines(set) {
  const path = set ? `/${set.distfeeds}` : '/distfeeds.conf';
  $('feeds-file').textContent = feedsFile(set?.format);
  $('feeds-link').href = path;
  try {
    const response = await fetch(path, { cache: 'no-store' });
    $('feeds').textContent = response.ok
      ? await response.text()
      : (await response.text()) || `${path}: HTTP ${response.status}`;
  } catch (error) {
    $('feeds').textContent = `Could not read ${path}: ${error}`;
  }
}

/** A <select> of sets, each option's value its index in `sets`. */
function setChoice(select, sets) {
  select.textContent = '';
  for (const [index, set] of sets.entries()) {
    const option = document.createElement('option');
    option.value = String(index);
    option.textContent = label(set);
    select.append(option);
  }
  return select;
}

/** The kept generations of each release (rollback), the served one and a pin marked. */
function showGenerations(status) {
  const rows = $('generation-rows');
  const releases = Object.entries(status.generations || {}).filter(
    ([, g]) => Array.isArray(g.kept) && g.kept.length > 0,
  );
  if (releases.length === 0) return;
  rows.replaceChildren();
  for (const [release, g] of releases) {
    for (const kept of g.kept) {
      const row = rows.insertRow();
      cell(row, release);
      cell(row, kept.id);
      cell(row, when(kept.publishedAt));
      cell(row, String(kept.packages));
      cell(row, size(kept.bytes));
      const served = kept.id === g.served;
      const pinned = kept.id === g.pinned;
      cell(
        row,
        pinned ? 'served, pinned by rollback (openwrt-mirror unpin)' : served ? 'served' : '',
        pinned ? 'warn' : served ? 'ok' : '',
      );
    }
  }
}

/** The learned selection: what on demand added, with when. */
function showLearned(status) {
  const learned = Array.isArray(status.learned) ? status.learned : [];
  if (learned.length === 0) return;
  const rows = $('learned-rows');
  rows.replaceChildren();
  for (const p of learned) {
    const row = rows.insertRow();
    const name = cell(row, '');
    const link = document.createElement('a');
    link.href = `/?q=${encodeURIComponent(p.name)}`;
    link.textContent = p.name;
    name.append(link);
    cell(row, p.release);
    cell(row, p.dir);
    cell(row, when(p.addedAt));
  }
}

function showStatus(status) {
  // A status.json of before several sets has no `sets`: its one set is in `mirror`.
  const sets = Array.isArray(status.sets) ? status.sets : [];
  showSummary(status, sets.length > 0 ? sets : [status.mirror || {}]);
  showSets(sets);
  showLastRun(status);
  showGenerations(status);
  showLearned(status);
  showFeedsAndImages(status, sets);
  const choices = sets.filter((set) => set.state !== 'not served' && set.distfeeds);
  const select = setChoice($('feeds-set'), choices);
  $('feeds-one').hidden = choices.length > 1;
  $('feeds-many').hidden = choices.length < 2;
  select.onchange = () => showFeedLines(choices[Number(select.value)]);
  return choices[0];
}

/** `12 s`, `4 min 5 s`, `2 h 3 min`. */
function duration(seconds) {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A `running` not rewritten for this long belongs to a sync that is gone (it writes every 2 s). */
const STALE_RUNNING_MS = 60_000;

/** The running sync's progress bar and line; hidden when none runs. */
function showRunning(running, now) {
  $('progress').hidden = !running;
  if (!running) return;
  const bar = $('progress-bar');
  const fraction =
    running.bytesTotal > 0
      ? running.bytesDone / running.bytesTotal
      : running.filesTotal > 0
        ? running.filesDone / running.filesTotal
        : undefined;
  if (fraction === undefined) bar.removeAttribute('value');
  else bar.value = Math.min(1, fraction);
  const where = running.release
    ? ` ${running.release}${running.releases > 1 ? ` (release ${running.releaseIndex} of ${running.releases})` : ''}`
    : '';
  const parts = [`Sync running: ${running.phase}${where}`];
  if (running.filesTotal > 0) {
    parts.push(
      `${running.filesDone} of ${count(running.filesTotal, 'file')}, ${size(running.bytesDone)} of ${size(running.bytesTotal)}`,
    );
    if (running.bytesPerSecond > 0) parts.push(`${size(running.bytesPerSecond)}/s`);
    if (typeof running.etaSeconds === 'number') parts.push(`about ${duration(running.etaSeconds)} left`);
  }
  const age = now - Date.parse(running.updatedAt);
  const text = $('progress-text');
  text.textContent = parts.join(' · ');
  text.className = '';
  if (age > STALE_RUNNING_MS) {
    text.textContent += ` · no word from this sync for ${duration(age / 1000)}: it may have been killed`;
    text.className = 'bad';
  }
}

/** In red: a worker whose heartbeat is late (more than twice its interval), or a refused configuration. */
function showWorker(worker, now) {
  const line = $('worker-state');
  const problems = [];
  if (worker?.configError) problems.push(`The worker refused its configuration: ${worker.configError}`);
  if (worker?.heartbeatAt) {
    const age = now - Date.parse(worker.heartbeatAt);
    if (age > 2 * (worker.heartbeatSeconds ?? 30) * 1000)
      problems.push(`Worker not running: its last heartbeat was ${duration(age / 1000)} ago.`);
  }
  line.hidden = problems.length === 0;
  line.textContent = problems.join('\n');
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * One small bar chart, oldest left: by default of runs, a bar's colour its run's result; `options`
 * say another colour and tip (the days of the download statistics).
 */
function barChart(title, runs, value, label, options = {}) {
  const colour = options.className || ((run) => resultClass(run.result));
  const tipOf = options.tip || ((run) => `${when(run.startedAt)}: ${label(run)}, ${run.result || 'unknown'}`);
  const figure = document.createElement('div');
  figure.className = 'chart';
  const caption = document.createElement('div');
  caption.className = 'muted';
  caption.textContent = title;
  const svg = document.createElementNS(SVG, 'svg');
  const width = 300;
  const height = 60;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  const max = Math.max(...runs.map(value), 1);
  const slot = width / Math.max(runs.length, 1);
  runs.forEach((run, index) => {
    const bar = document.createElementNS(SVG, 'rect');
    const h = Math.max(1, (value(run) / max) * (height - 2));
    bar.setAttribute('x', String(index * slot + slot * 0.15));
    bar.setAttribute('y', String(height - h));
    bar.setAttribute('width', String(slot * 0.7));
    bar.setAttribute('height', String(h));
    bar.setAttribute('class', colour(run));
    const tip = document.createElementNS(SVG, 'title');
    tip.textContent = tipOf(run);
    bar.append(tip);
    svg.append(bar);
  });
  figure.append(caption, svg);
  return figure;
}

/** The last runs: duration and bytes as charts, each run a row whose failures unfold. */
function showHistory(history) {
  const runs = Array.isArray(history?.runs) ? history.runs : [];
  const charts = $('history-chart');
  charts.textContent = '';
  const rows = $('history-rows');
  if (runs.length === 0) return;
  charts.append(
    barChart(
      'duration per run',
      runs,
      (run) => (run.durationMs ?? 0) / 1000,
      (run) => duration((run.durationMs ?? 0) / 1000),
    ),
    barChart(
      'bytes downloaded per run',
      runs,
      (run) => run.bytes ?? 0,
      (run) => size(run.bytes),
    ),
  );
  rows.textContent = '';
  for (const run of [...runs].reverse()) {
    const row = rows.insertRow();
    const started = new Date(run.startedAt);
    cell(row, Number.isNaN(started.getTime()) ? String(run.startedAt) : started.toLocaleString()).title =
      run.startedAt;
    const result = cell(row, '', resultClass(run.result));
    if ((run.failures || []).length > 0) {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = `${run.result || 'unknown'}: ${count(run.failureCount ?? run.failures.length, 'failure')}`;
      const list = document.createElement('ul');
      for (const failure of run.failures) {
        const item = document.createElement('li');
        item.textContent = failure;
        list.append(item);
      }
      if ((run.failureCount ?? 0) > run.failures.length) {
        const more = document.createElement('li');
        more.textContent = `… and ${run.failureCount - run.failures.length} more`;
        list.append(more);
      }
      details.append(summary, list);
      result.append(details);
    } else {
      result.textContent = run.result || 'unknown';
    }
    showChanges(cell(row, ''), run.changes);
    cell(row, typeof run.durationMs === 'number' ? duration(run.durationMs / 1000) : '', 'num');
    cell(row, `${run.downloaded ?? 0} of ${run.planned ?? 0}`, 'num');
    cell(row, size(run.bytes), 'num');
    cell(row, String(run.requests ?? ''), 'num');
  }
}

/** A run's changes: the counts, unfolding to one line a package or image. */
function showChanges(td, changes) {
  const counts = changes?.counts;
  const total = counts ? counts.added + counts.updated + counts.removed + counts.images : 0;
  if (!counts || total === 0) {
    td.textContent = 'none';
    td.className = 'muted';
    return;
  }
  const summaryText = [
    counts.added ? `${counts.added} added` : '',
    counts.updated ? `${counts.updated} updated` : '',
    counts.removed ? `${counts.removed} removed` : '',
    counts.images ? count(counts.images, 'image') : '',
  ]
    .filter(Boolean)
    .join(', ');
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = summaryText;
  const list = document.createElement('ul');
  const item = (text) => {
    const li = document.createElement('li');
    li.textContent = text;
    list.append(li);
  };
  for (const c of changes.updated) item(`${c.name} ${c.from} → ${c.to} (${c.feed}, ${c.release})`);
  for (const c of changes.added) item(`+ ${c.name} ${c.version} (${c.feed}, ${c.release})`);
  for (const c of changes.removed) item(`− ${c.name} ${c.version} (${c.feed}, ${c.release})`);
  for (const c of changes.images) item(`${c.change}: ${c.path.split('/').pop()} (${c.release})`);
  const listed =
    changes.updated.length + changes.added.length + changes.removed.length + changes.images.length;
  if (total > listed) item(`… and ${total - listed} more (openwrt-mirror status --changes)`);
  details.append(summary, list);
  td.append(details);
}

async function loadHistory() {
  try {
    const response = await fetch('/history.json', { cache: 'no-store' });
    if (response.ok) showHistory(await response.json());
  } catch {
    // No history yet: the section keeps saying so.
  }
}

// ---- Search: each set's packages.json, searched in the browser ------------------------------

/** The list being searched, its words and the set it is of. */
const search = {
  set: undefined,
  list: undefined,
  rows: [],
  words: new Map(),
  dependents: new Map(),
  via: new Map(),
};

/** Words of a name or a description: lower case, split at anything but letters and digits. */
function wordsOf(text) {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length >= 2);
}

/** Edit distance of a and b, or more than `max` (stops early). */
function distanceAtMost(a, b, max) {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      best = Math.min(best, current[j]);
    }
    if (best > max) return max + 1;
    previous = current;
  }
  return previous[b.length];
}

/** Each set's packages.json, fetched once per publish (the search and the missing packages share it). */
const lists = new Map();
function fetchList(set) {
  const path = `/search/${set.release}/${set.target}/packages.json`;
  const key = `${path} ${set.generation || ''}`;
  if (!lists.has(key)) {
    const list = fetch(path, { cache: 'no-cache' }).then((response) => {
      if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
      return response.json();
    });
    list.catch(() => lists.delete(key));
    lists.set(key, list);
  }
  return lists.get(key);
}

async function loadList(set) {
  if (search.set === set && search.list) return;
  search.set = set;
  search.list = undefined;
  $('search-info').textContent = `Loading the packages of ${label(set)}…`;
  const list = await fetchList(set);
  if (search.set !== set) return;
  // One row a package: lower-case name and description, and its words for the typo search.
  search.rows = list.packages.map((pkg, index) => ({
    index,
    name: pkg.n.toLowerCase(),
    description: (pkg.d || '').toLowerCase(),
  }));
  search.words = new Map();
  for (const row of search.rows) {
    for (const word of new Set([...wordsOf(row.name), ...wordsOf(row.description)])) {
      const rows = search.words.get(word);
      if (rows) rows.push(row.index);
      else search.words.set(word, [row.index]);
    }
  }
  // Who depends on whom: a word that describes a library also finds what is built on it
  // ("packet" finds libpcap1 by its description, and tcpdump through it).
  const byName = new Map(list.packages.map((pkg, index) => [pkg.n, index]));
  search.dependents = new Map();
  for (const [index, pkg] of list.packages.entries()) {
    for (const dep of pkg.p || []) {
      const target = byName.get(dep);
      if (target === undefined) continue;
      const users = search.dependents.get(target);
      if (users) users.push(index);
      else search.dependents.set(target, [index]);
    }
  }
  search.list = list;
}

/** A library that this share of all packages needs (libc) says nothing about them: not followed. */
const COMMON_DEPENDENCY = 0.02;

/**
 * Every word of the query must match: in the name (whole, start, part), in the description, or,
 * for a word of four letters or more, a word of either within one typo (two from eight letters).
 */
function find(query) {
  const words = wordsOf(query);
  search.via = new Map();
  if (words.length === 0) return [];
  const scores = new Map();
  for (const [position, word] of words.entries()) {
    const hits = new Map();
    const hit = (index, score) => hits.set(index, Math.max(hits.get(index) ?? 0, score));
    for (const row of search.rows) {
      if (row.name === word) hit(row.index, 100);
      else if (row.name.startsWith(word)) hit(row.index, 60);
      else if (row.name.includes(word)) hit(row.index, 40);
      else if (row.description.includes(word)) hit(row.index, 20);
    }
    if (word.length >= 4) {
      const max = word.length >= 8 ? 2 : 1;
      for (const [known, rows] of search.words) {
        if (known !== word && distanceAtMost(word, known, max) <= max)
          for (const index of rows) hit(index, 10);
      }
    }
    const common = Math.max(20, search.rows.length * COMMON_DEPENDENCY);
    for (const [index, score] of [...hits]) {
      if (score < 20) continue;
      const users = search.dependents.get(index) || [];
      if (users.length > common) continue;
      for (const user of users) {
        if (!hits.has(user)) {
          hits.set(user, 5);
          search.via.set(user, search.list.packages[index].n);
        }
      }
    }
    for (const [index, score] of hits) {
      if (position === 0) scores.set(index, score);
      else if (scores.has(index)) scores.set(index, scores.get(index) + score);
    }
    if (position > 0) for (const index of scores.keys()) if (!hits.has(index)) scores.delete(index);
  }
  const packages = search.list.packages;
  return [...scores]
    .sort(
      (a, b) =>
        b[1] - a[1] ||
        packages[b[0]].m - packages[a[0]].m ||
        packages[a[0]].n.localeCompare(packages[b[0]].n),
    )
    .map(([index]) => packages[index]);
}

/** Results shown at most; the count says how many matched. */
const RESULTS_SHOWN = 50;

function showResults(query) {
  const list = search.list;
  const results = $('results');
  results.textContent = '';
  if (!list) return;
  if (wordsOf(query).length === 0) {
    $('search-info').textContent =
      `${count(list.packages.length, 'package')} in the indexes of ${label(list)}; ${
        list.packages.filter((pkg) => pkg.m).length
      } of them on this mirror.`;
    return;
  }
  const found = find(query);
  $('search-info').textContent =
    found.length === 0
      ? `Nothing in ${label(list)} matches “${query}”.`
      : `${count(found.length, 'package')} of ${label(list)} ${found.length === 1 ? 'matches' : 'match'}${
          found.length > RESULTS_SHOWN ? `; the first ${RESULTS_SHOWN}:` : ':'
        }`;
  for (const pkg of found.slice(0, RESULTS_SHOWN)) results.append(resultItem(list, pkg));
}

function resultItem(list, pkg) {
  const item = document.createElement('li');
  const feed = list.feeds[pkg.f] || { name: '?', dir: '' };
  const head = document.createElement('div');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = pkg.n;
  head.append(name, ` ${pkg.v} · ${feed.name} · ${size(pkg.s)} · `);
  const where = document.createElement('span');
  where.className = pkg.m ? 'ok' : 'warn';
  where.textContent = pkg.m ? 'on this mirror' : 'not on this mirror';
  head.append(where);
  item.append(head);
  if (pkg.d) {
    const description = document.createElement('div');
    description.textContent = pkg.d;
    item.append(description);
  }
  const via = search.via.get(list.packages.indexOf(pkg));
  if (via) {
    const note = document.createElement('div');
    note.className = 'muted';
    note.textContent = `found through ${via}, which it depends on`;
    item.append(note);
  }
  if (pkg.p?.length) {
    const deps = document.createElement('div');
    deps.className = 'deps muted';
    deps.append('depends on: ');
    for (const dep of pkg.p) {
      const link = document.createElement('a');
      link.href = `/?q=${encodeURIComponent(dep)}`;
      link.textContent = dep;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        $('q').value = dep;
        runSearch();
      });
      deps.append(link);
    }
    item.append(deps);
  }
  if (pkg.m) {
    const link = document.createElement('a');
    link.href = `/releases/${list.release}/${feed.dir}/${pkg.u}`;
    link.textContent = `download ${pkg.u}`;
    item.append(link);
  } else {
    item.append(howToMirror(list, [pkg.n], 'it', 'div'));
  }
  return item;
}

/**
 * How to mirror `names` of a set whose package list is `list`: the `.env` line with them added to
 * its optional packages, or, where a MIRROR_CONFIG file sets those, where to add them.
 */
function howToMirror(list, names, subject, tag) {
  const how = document.createElement(tag);
  const optional = list.optional || { list: [], source: 'OPTIONAL_PACKAGES' };
  if (optional.source === 'OPTIONAL_PACKAGES') {
    how.append(`To mirror ${subject}, set in .env (then docker compose up -d):`);
    const line = document.createElement('pre');
    line.textContent = `OPTIONAL_PACKAGES=${[...optional.list.filter((n) => !names.includes(n)), ...names].join(',')}`;
    how.append(line);
  } else {
    how.textContent = `To mirror ${subject}, add ${names.join(', ')} to the optional packages of this set: ${optional.source}.`;
  }
  return how;
}

/** The query goes into the address, so that a search can be bookmarked and sent. */
function runSearch() {
  const query = $('q').value;
  const url = new URL(window.location.href);
  if (query) url.searchParams.set('q', query);
  else url.searchParams.delete('q');
  history.replaceState(null, '', url);
  showResults(query);
}

function setUpSearch(sets) {
  const choices = sets.filter((set) => set.state !== 'not served');
  const select = setChoice($('search-set'), choices);
  select.hidden = choices.length < 2;
  const current = () => choices[Number(select.value) || 0];
  const load = async () => {
    if (!current()) return;
    try {
      await loadList(current());
      runSearch();
    } catch (error) {
      $('search-info').textContent = `Could not load the package list: ${error.message}`;
    }
  };
  select.onchange = load;
  $('q').oninput = () => (search.list ? runSearch() : load());
  $('search-form').onsubmit = (event) => {
    event.preventDefault();
    runSearch();
  };
  const asked = new URL(window.location.href).searchParams.get('q');
  if (asked) $('q').value = asked;
  // The list is fetched when someone searches (or came with ?q=): the page itself stays light.
  if (asked) return load();
  $('search-info').textContent =
    choices.length > 0 ? 'Type to search every package of the served indexes.' : '';
}

// ---- What the routers use: status.json's `downloads`, counted by the worker from nginx's log -----

/** `24.10.4 packages` for a feed directory of status.json, its path when it is not served. */
function feedLabel(status, path) {
  const feed = (status.feeds || []).find((f) => f.path === path);
  const release = path.split('/')[1] || '';
  return feed ? `${release} ${feed.name}` : path;
}

function showDownloads(status) {
  const downloads = status.downloads;
  if (!downloads) return;
  const week = downloads.week || {};
  const days = Array.isArray(downloads.days) ? downloads.days : [];
  const last = days.at(-1);
  const updates = last ? (last.updates?.opkg ?? 0) + (last.updates?.apk ?? 0) : 0;
  $('downloads-info').textContent = week.from
    ? `Since ${week.from}: ${count(week.packages, 'package')} fetched, ${size(week.bytes)} served in ${count(week.requests, 'request')}.` +
      (last
        ? ` On ${last.day}: ${count(last.clients, 'client')}, ${count(updates, 'update')} (opkg update, apk update), ${last.notFound} not found.`
        : '')
    : 'Nothing fetched yet: routers that use this mirror show up here within a minute.';
  $('downloads-info').className = week.from ? '' : 'muted';
  const charts = $('downloads-chart');
  charts.textContent = '';
  if (days.length > 0) {
    const daily = {
      className: () => 'ok',
      tip: (day) =>
        `${day.day}: ${size(day.bytes)}, ${day.packages} packages, ${count(day.clients, 'client')}`,
    };
    charts.append(
      barChart(
        'bytes served per day',
        days,
        (day) => day.bytes,
        (day) => size(day.bytes),
        daily,
      ),
      barChart(
        'clients per day',
        days,
        (day) => day.clients,
        (day) => count(day.clients, 'client'),
        daily,
      ),
    );
  }
  const top = $('top-rows');
  top.textContent = '';
  for (const entry of week.top || []) {
    const row = top.insertRow();
    const link = document.createElement('a');
    link.href = `/?q=${encodeURIComponent(entry.name)}`;
    link.textContent = entry.name;
    cell(row, '').append(link);
    cell(row, feedLabel(status, entry.feed), 'muted');
    cell(row, String(entry.requests), 'num');
    cell(row, size(entry.bytes), 'num');
  }
  if (!week.top?.length) cell(top.insertRow(), 'No package fetched this week.', 'muted').colSpan = 4;
  showMissing(status, week.missing || []);
}

/**
 * Packages routers asked for that the mirror does not hold, with the .env line that adds those a
 * served index lists (the search's package lists say which).
 */
async function showMissing(status, missing) {
  const rows = $('missing-rows');
  const how = $('missing-how');
  rows.textContent = '';
  how.textContent = '';
  if (missing.length === 0) {
    cell(rows.insertRow(), 'None: every package asked for was here.', 'muted').colSpan = 4;
    return;
  }
  const sets = (status.sets || []).filter((set) => set.state !== 'not served');
  const setOf = (feed) => sets.find((set) => set.feeds.some((f) => f.path === feed));
  const cells = [];
  for (const entry of missing) {
    const row = rows.insertRow();
    cell(row, entry.name, 'name');
    cell(row, feedLabel(status, entry.feed), 'muted');
    cell(row, String(entry.requests), 'num');
    cells.push({ entry, set: setOf(entry.feed), note: cell(row, '', 'muted') });
  }
  for (const set of new Set(cells.map((c) => c.set).filter(Boolean))) {
    let list;
    try {
      list = await fetchList(set);
    } catch {
      continue;
    }
    const listed = new Set(list.packages.map((pkg) => pkg.n));
    const names = [];
    for (const c of cells.filter((c) => c.set === set)) {
      const known = listed.has(c.entry.name);
      c.note.textContent = known ? 'listed in the index, not mirrored' : 'in no index served here';
      c.note.className = known ? 'warn' : 'muted';
      if (known && !names.includes(c.entry.name)) names.push(c.entry.name);
    }
    if (names.length > 0) how.append(howToMirror(list, names, `them for ${label(set)}`, 'p'));
  }
}

/** How often the page reads status.json: often while a sync runs, rarely otherwise. */
const POLL_RUNNING_MS = 2000;
const POLL_IDLE_MS = 15000;

async function load() {
  $('setup-command').textContent = `wget -qO- ${base}/setup.sh | sh`;
  $('restore-command').textContent = `wget -qO- ${base}/setup.sh | sh -s -- --restore`;
  let shownLines = false;
  let lastRunAt;
  let downloadsAt;
  const refresh = async () => {
    let status;
    try {
      const response = await fetch('/status.json', { cache: 'no-store' });
      if (response.ok) status = await response.json();
      else
        $('summary').textContent =
          'No sync has finished yet: the first one may still be running. This page follows it.';
    } catch (error) {
      $('summary').textContent = `Could not read status.json: ${error}`;
    }
    const now = Date.now();
    if (status && !status.lastRun) {
      $('summary').textContent = status.running
        ? 'The first sync is running; this page follows it.'
        : 'No sync has finished yet.';
    }
    showRunning(status?.running, now);
    showWorker(status?.worker, now);
    if (status?.downloads && status.downloads.updatedAt !== downloadsAt) {
      downloadsAt = status.downloads.updatedAt;
      showDownloads(status);
    }
    // The tables change when a run ends: redrawn then, not on every poll.
    const runAt = status?.lastRun?.finishedAt;
    if (status?.lastRun && runAt !== lastRunAt) {
      lastRunAt = runAt;
      const first = showStatus(status);
      await showFeedLines(first);
      if (!search.ready) {
        search.ready = true;
        await setUpSearch(Array.isArray(status.sets) ? status.sets : []);
      }
      await loadHistory();
      shownLines = true;
    } else if (!shownLines && !status?.lastRun) {
      $('feeds').textContent = 'The feed lines are here once the first sync has published.';
    }
    setTimeout(refresh, status?.running ? POLL_RUNNING_MS : POLL_IDLE_MS);
  };
  await refresh();
}

load();

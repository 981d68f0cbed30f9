/**
 * The dashboard's page, its stylesheet and its script, kept as strings: the CLI is one esbuild bundle that the e2e
 * tests also build on their own, and strings travel with it wherever it is built, with no asset to copy or find.
 * The script renders every value with textContent (keys and reasons are user data, never markup) and polls
 * /api/snapshot once a second.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local pipeline dashboard</title>
<link rel="stylesheet" href="/uplot.css">
<link rel="stylesheet" href="/dashboard.css">
<script src="/uplot.js" defer></script>
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Local pipeline <span id="job"></span></h1>
  <p id="status" role="status">connecting…</p>
</header>
<main>
<section class="tiles">
  <div class="tile"><span class="label">Queue visible</span><span class="value" id="visible">–</span></div>
  <div class="tile"><span class="label">In flight</span><span class="value" id="in-flight">–</span></div>
  <div class="tile"><span class="label">DLQ</span><span class="value" id="dlq">–</span></div>
  <div class="tile"><span class="label">Workers</span><span class="value" id="workers">–</span></div>
  <div class="tile"><span class="label">Processed</span><span class="value"><span id="processed">–</span> / <span id="loaded">–</span></span></div>
  <div class="tile"><span class="label">Files/s</span><span class="value" id="rate">–</span></div>
  <div class="tile"><span class="label">Mean time per file</span><span class="value" id="latency">–</span></div>
</section>
<section class="charts">
  <figure><figcaption>Throughput (files/s) and workers</figcaption><div id="throughput-chart" class="chart"></div></figure>
  <figure><figcaption>Queue: visible, in flight, DLQ</figcaption><div id="queue-chart" class="chart"></div></figure>
  <figure><figcaption>Processing time per file (ms): mean and slowest</figcaption><div id="latency-chart" class="chart"></div></figure>
</section>
<section class="panels">
  <div class="panel">
    <h2>Scaler decisions</h2>
    <ol id="decisions" class="decisions"></ol>
  </div>
  <div class="panel">
    <h2>Dead letters</h2>
    <p><button id="redrive" type="button" disabled>Redrive dead letters</button> <span id="redrive-result" role="status"></span></p>
    <ul id="dead-letters" class="dead-letters"></ul>
  </div>
</section>
<section class="panel">
  <h2>Newest outputs</h2>
  <div id="gallery" class="gallery"></div>
</section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #d9dee7; --accent: #1f6feb; --bad: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f5f7fa; }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: 0.6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.2rem; margin: 0; }
h1 span { color: var(--muted); font-weight: normal; }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
#status { margin: 0; color: var(--muted); }
main { padding: 0.8rem 1.2rem; display: grid; gap: 0.8rem; }
.tiles { display: grid; grid-template-columns: repeat(7, 1fr); gap: 0.6rem; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.7rem; display: flex; flex-direction: column; }
.tile .label { color: var(--muted); font-size: 0.8rem; }
.tile .value { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 0.6rem; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem; min-width: 0; }
figcaption { color: var(--muted); font-size: 0.8rem; margin-bottom: 0.2rem; }
.chart { min-height: 200px; }
.panels { display: grid; grid-template-columns: 3fr 2fr; gap: 0.6rem; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; min-width: 0; }
.decisions, .dead-letters { margin: 0; padding-left: 1.1rem; max-height: 11rem; overflow: auto; font-size: 0.85rem; }
.decisions li, .dead-letters li { margin-bottom: 0.25rem; }
.when { color: var(--muted); font-variant-numeric: tabular-nums; }
.launch { font-weight: 600; }
.key { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.reason { color: var(--bad); font-weight: 600; }
.why { color: var(--muted); }
button { font: inherit; padding: 0.25rem 0.8rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { background: #eef1f5; color: var(--muted); border-color: var(--line); cursor: default; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.gallery figure { width: 128px; padding: 0.25rem; }
.gallery img { width: 118px; height: 118px; object-fit: cover; display: block; background: #eef1f5; }
.gallery figcaption, .gallery .file { font-size: 0.7rem; overflow-wrap: anywhere; margin: 0.2rem 0 0; }
.empty { color: var(--muted); }
@media (max-width: 900px) { .tiles { grid-template-columns: repeat(3, 1fr); } .charts, .panels { grid-template-columns: 1fr; } }
`;

export const PAGE_SCRIPT = `(function () {
  'use strict';
  var POLL_MS = 1000;
  // After a redrive the counts move within a second or two (a worker can dead-letter a message again that fast):
  // polled faster for a while, so the move shows rather than falling between two polls.
  var FAST_POLL_MS = 250;
  var FAST_POLL_FOR_MS = 6000;
  var fastUntil = 0;
  var CHART_HEIGHT = 190;
  var charts = [];
  var galleryShown = null;
  var renders = 0;

  function byId(id) { return document.getElementById(id); }
  function setText(id, value) { byId(id).textContent = String(value); }
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function makeChart(id, series, axes, columns) {
    var host = byId(id);
    var plot = new uPlot({
      width: Math.max(240, host.clientWidth),
      height: CHART_HEIGHT,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false } },
      series: [{ label: 's' }].concat(series),
      axes: [{ label: 'seconds since start', size: 36, labelSize: 14 }].concat(axes)
    }, columns, host);
    charts.push({ plot: plot, host: host });
    return plot;
  }

  var throughputChart, queueChart, latencyChart;
  function createCharts() {
    var empty3 = [[], [], []];
    throughputChart = makeChart('throughput-chart', [
      { label: 'files/s', stroke: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.08)' },
      { label: 'workers', stroke: '#e07b00', width: 2, scale: 'workers', paths: uPlot.paths.stepped({ align: 1 }) }
    ], [{}, { scale: 'workers', side: 1, grid: { show: false } }], empty3);
    queueChart = makeChart('queue-chart', [
      { label: 'visible', stroke: '#1f6feb', width: 2 },
      { label: 'in flight', stroke: '#2da44e', width: 2 },
      { label: 'DLQ', stroke: '#c0392b', width: 2 }
    ], [{}], [[], [], [], []]);
    latencyChart = makeChart('latency-chart', [
      { label: 'mean ms', stroke: '#8250df', width: 2, spanGaps: true, points: { show: true, size: 4 } },
      { label: 'slowest ms', stroke: '#bf8700', width: 1, spanGaps: true, points: { show: true, size: 4 } }
    ], [{ size: 56 }], empty3);
    window.addEventListener('resize', function () {
      charts.forEach(function (chart) { chart.plot.setSize({ width: Math.max(240, chart.host.clientWidth), height: CHART_HEIGHT }); });
    });
  }

  function renderDecisions(decisions) {
    var list = byId('decisions');
    clear(list);
    if (decisions.length === 0) list.appendChild(element('li', 'empty', 'none yet'));
    decisions.forEach(function (decision) {
      var item = element('li');
      item.appendChild(element('span', 'when', new Date(decision.timestamp).toLocaleTimeString([], { hour12: false }) + ' '));
      if (decision.pipeline) item.appendChild(element('span', 'key', decision.pipeline + ': '));
      item.appendChild(element('span', 'launch', 'launch ' + decision.launch));
      item.appendChild(document.createTextNode(' (visible ' + decision.visible + ', in flight ' + decision.inFlight + ', running ' + decision.running + '): '));
      item.appendChild(element('span', 'why', decision.reasons.join('; ')));
      if (decision.repeated > 1) item.appendChild(element('span', 'when', ' (×' + decision.repeated + ' in a row)'));
      list.appendChild(item);
    });
  }

  function renderDeadLetters(deadLetters, depth) {
    var list = byId('dead-letters');
    clear(list);
    if (deadLetters.lines.length === 0) list.appendChild(element('li', 'empty', 'none'));
    deadLetters.lines.forEach(function (line) {
      var item = element('li', 'dead-letter');
      item.appendChild(element('span', 'key', line.key));
      item.appendChild(document.createTextNode(' '));
      item.appendChild(element('span', 'reason', line.reason));
      if (line.why) item.appendChild(element('span', 'why', ' ' + line.why));
      list.appendChild(item);
    });
    if (deadLetters.more > 0) list.appendChild(element('li', 'empty', deadLetters.more + ' more (npm run status)'));
    var button = byId('redrive');
    button.disabled = depth === 0;
    button.textContent = depth === 0 ? 'Redrive dead letters' : 'Redrive ' + depth + ' dead letter' + (depth === 1 ? '' : 's');
  }

  function renderGallery(outputs) {
    var shown = outputs.map(function (output) { return output.key; }).join('\\n');
    if (shown === galleryShown) return;
    galleryShown = shown;
    var gallery = byId('gallery');
    clear(gallery);
    if (outputs.length === 0) gallery.appendChild(element('p', 'empty', 'no outputs yet'));
    outputs.forEach(function (output) {
      var card = element('figure');
      var link = element('a');
      link.href = output.url;
      if (output.image) {
        var image = element('img');
        image.src = output.url;
        image.alt = output.key;
        image.loading = 'lazy';
        link.appendChild(image);
        card.appendChild(link);
        card.appendChild(element('figcaption', 'key', output.key));
      } else {
        link.textContent = output.key;
        link.className = 'file key';
        card.appendChild(link);
        card.appendChild(element('figcaption', '', Math.max(1, Math.round(output.size / 1024)) + ' KB'));
      }
      gallery.appendChild(card);
    });
  }

  function render(snapshot) {
    var now = snapshot.now;
    setText('job', snapshot.job);
    setText('visible', now.visible);
    setText('in-flight', now.inFlight);
    setText('dlq', now.deadLettered);
    setText('workers', now.workers);
    setText('processed', now.processed);
    setText('loaded', now.loaded);
    setText('rate', now.filesPerSecond.toFixed(1));
    setText('latency', snapshot.latency.meanMs === null ? '–' : snapshot.latency.meanMs + ' ms');
    var drained = now.visible + now.inFlight + now.delayed === 0 && now.pending === 0 && now.workers === 0;
    setText('status', (drained ? 'drained' : 'running') + ' · t=' + Math.round(now.elapsedSeconds) + 's · chart resolution ' + snapshot.resolutionSeconds + 's');
    var s = snapshot.series;
    throughputChart.setData([s.t, s.filesPerSecond, s.workers]);
    queueChart.setData([s.t, s.visible, s.inFlight, s.deadLettered]);
    latencyChart.setData([s.t, s.latencyMeanMs, s.latencyMaxMs]);
    renderDecisions(snapshot.decisions);
    renderDeadLetters(snapshot.deadLetters, now.deadLettered);
    renderGallery(snapshot.outputs);
    renders++;
    document.body.setAttribute('data-renders', String(renders));
  }

  function poll() {
    fetch('/api/snapshot', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(render)
      .catch(function (error) { setText('status', 'pipeline not reachable (' + error.message + '); retrying'); })
      .then(function () { setTimeout(poll, Date.now() < fastUntil ? FAST_POLL_MS : POLL_MS); });
  }

  function redrive() {
    var button = byId('redrive');
    button.disabled = true;
    fetch('/api/redrive', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || 'HTTP ' + response.status);
          return body;
        });
      })
      .then(function (body) {
        fastUntil = Date.now() + FAST_POLL_FOR_MS;
        setText('redrive-result', 'moved ' + body.moved + ' back to the queue');
      })
      .catch(function (error) { setText('redrive-result', 'redrive failed: ' + error.message); });
  }

  createCharts();
  byId('redrive').addEventListener('click', redrive);
  poll();
})();
`;

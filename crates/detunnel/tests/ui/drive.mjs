// Drives detunnel's web UI in Debian's headless Chromium and checks what a user sees against
// the REST API. Usage: node drive.mjs BASE_URL SCREENSHOT_DIR [readonly]
// Prints one line per check; exits 1 with the failures listed.
import { launch } from './browser.mjs';

const [base, shots, mode] = process.argv.slice(2);
const readonly = mode === 'readonly';
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const api = async (path, init) => {
  const r = await fetch(new URL(path, base), init);
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
};
const until = async (what, f, ms = 30000) => {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) { /* not yet */ }
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), at: Date.now() }));
  // Every /pipelines/json the page received, to compare the broker view with.
  const pipelineBodies = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/pipelines/json') r.json().then((b) => pipelineBodies.push(b), () => {});
  });
  page.on('pageerror', (e) => failures.push('page error: ' + e.message));
  page.on('dialog', async (d) => { failures.push('a dialog opened: ' + d.message()); await d.dismiss(); });

  // The page loads fast from loopback; `/` takes a browser there.
  const started = Date.now();
  await page.goto(base, { waitUntil: 'load' });
  const loaded = Date.now() - started;
  check(new URL(page.url()).pathname === '/ui/', `GET / leads a browser to /ui/ (${page.url()})`);
  // Timed in bench/ui.py, not here (the machines are shared): only a sanity bound.
  check(loaded < 5000, `the page loads (${loaded} ms)`);

  if (readonly) {
    // Read-only: no definition form, the flows defined already.
    await page.waitForSelector('#flow-label:not([hidden])');
    check(await page.isHidden('#keys-label'), 'read-only: the keys field is hidden');
    check(await page.isHidden('#presets'), 'read-only: the presets (which define flows) are hidden');
    const options = await page.$$eval('#flow option', (o) => o.map((x) => x.value));
    check(options.includes('tenants'), `read-only: the defined flow is offered (${options})`);
    await until('rows', async () => (await page.$$('#flow-table tbody tr')).length > 0);
    const defined = (await api('/flow/json')).json();
    check(!Object.keys(defined).some((n) => n.startsWith('ui_')), 'read-only: the page defined no flow');
    await page.screenshot({ path: `${shots}/readonly.png`, fullPage: true });
  } else {
    // Key completion offers inner keys, grouped by depth.
    await page.fill('#keys', 'ipsource.1,ipdest');
    await page.dispatchEvent('#keys', 'input');
    const offered = await page.$$eval('#keys-list option', (o) => o.map((x) => x.value));
    check(offered.includes('ipsource.1,ipdestination.1'), `key completion offers ipdestination.1 (${offered.slice(0, 5)})`);
    await page.fill('#keys', 'ipsource.');
    await page.dispatchEvent('#keys', 'input');
    const inner = await page.$$eval('#keys-list option', (o) => o.map((x) => x.value));
    check(inner.includes('ipsource.1'), `key completion offers ipsource.1 (${inner.slice(0, 5)})`);

    // A definition: the chart gets series, the table rows match /activeflows.
    await page.fill('#keys', 'ipsource.1,ipdestination.1,vxlanvni');
    await page.dispatchEvent('#keys', 'change');
    await page.selectOption('#value', 'fps');
    await until('two table rows', async () => (await page.$$('#flow-table tbody tr')).length >= 2);
    await until('chart series', async () => (await page.$$('#chart .u-legend .u-series')).length >= 3);
    const series = (await page.$$('#chart .u-legend .u-series')).length - 1;
    check(series >= 2, `the chart has a series per flow (${series})`);
    const url = new URL(page.url());
    check(url.searchParams.get('keys') === 'ipsource.1,ipdestination.1,vxlanvni' && url.searchParams.get('value') === 'fps',
      `the definition is in the URL (${url.search})`);
    const flowNames = await until('a flow the page defined', async () => {
      const names = Object.keys((await api('/flow/json')).json()).filter((n) => n.startsWith('ui_'));
      return names.length ? names : null;
    });
    const rows = await page.$$eval('#flow-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td.key')].map((td) => td.textContent).join(',')));
    let matched = false;
    for (const name of flowNames) {
      const active = (await api(`/activeflows/ALL/${name}/json?maxFlows=10`)).json();
      const keys = active.map((f) => f.key).sort();
      if (JSON.stringify(keys) === JSON.stringify(rows.slice().sort())) matched = true;
    }
    check(matched, `the table's rows are /activeflows' keys (${rows})`);
    await page.screenshot({ path: `${shots}/flows.png`, fullPage: true });

    // The table refreshes every second keeping its rows (their numbers updated), so that a
    // click is not lost to a row replaced between the press and the release.
    await page.$eval('#flow-table tbody tr:first-child', (tr) => { tr.dataset.mark = 'seen'; });
    await page.waitForTimeout(2500);
    check((await page.$$('#flow-table tbody tr[data-mark="seen"]')).length === 1,
      'a refresh keeps the rows shown (a click on one is not lost)');

    // Clicking a key cell narrows the filter, as a chip and in the URL.
    const firstKey = await page.textContent('#flow-table tbody tr:first-child td.key:nth-child(3)');
    await page.click('#flow-table tbody tr:first-child td.key:nth-child(3)');
    await until('a chip', async () => (await page.$$('#chips .chip')).length === 1);
    const chip = await page.textContent('#chips .chip');
    check(chip.startsWith(`vxlanvni=${firstKey}`), `clicking a cell adds a chip (${chip})`);
    check(new URL(page.url()).searchParams.getAll('chips').includes(`vxlanvni=${firstKey}`), 'the chip is in the URL');
    await until('one row', async () => (await page.$$('#flow-table tbody tr')).length === 1);
    check(true, 'the table narrows to the chosen flow');

    // Where seen: the agents and ports (here the pipeline's) that saw it.
    await page.click('#flow-table tbody tr:first-child button.where');
    await until('where rows', async () => (await page.$$('#where-table tbody tr')).length >= 1);
    const where = await page.textContent('#where-table tbody');
    check(/\d/.test(where), `where seen lists a data source (${where.trim().slice(0, 60)})`);

    // Copy as curl: the definition, ready to paste.
    await page.click('#curl');
    const curl = await page.textContent('#curl-text');
    check(curl.includes('curl -X PUT') && curl.includes('ipsource.1,ipdestination.1,vxlanvni') && curl.includes('vxlanvni='), 'copy as curl has the definition and filter');

    // A chip is removed with its button.
    await page.click('#chips .chip button');
    await until('no chip', async () => (await page.$$('#chips .chip')).length === 0);
    check(!new URL(page.url()).searchParams.has('chips'), 'a removed chip leaves the URL');

    // A bad filter shows the server's own message, where the user typed.
    await page.fill('#filter', 'ipsource.1==10.0.0.1');
    await page.dispatchEvent('#filter', 'change');
    await page.waitForSelector('#flow-error:not([hidden])');
    const error = await page.textContent('#flow-error');
    const server = (await api(`/ui/api/top/json?keys=ipsource.1&filter=${encodeURIComponent('ipsource.1==10.0.0.1')}`)).text.trim();
    check(error.trim() === server && server.length > 0, `a bad filter shows the server's message (${error.trim().split('\n')[0]})`);
    await page.screenshot({ path: `${shots}/flows-error.png`, fullPage: true });
    await page.fill('#filter', '');
    await page.dispatchEvent('#filter', 'change');

    // A key value holding markup is shown as text: nothing is injected.
    const put = await api('/map/evil/json', { method: 'PUT', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ '<script>window.__owned=1</script><img src=x onerror="window.__owned=2">': ['10.1.0.1', '10.2.0.1'] }) });
    check(put.status === 204, `a map with markup in its names is defined (${put.status})`);
    await page.goto(new URL('/ui/?keys=' + encodeURIComponent('map:ipsource.1:evil,vxlanvni') + '&value=fps', base).href);
    await until('rows', async () => (await page.$$('#flow-table tbody tr')).length >= 1);
    const cell = await page.textContent('#flow-table tbody tr:first-child td.key');
    const owned = await page.evaluate(() => window.__owned);
    const injected = await page.$$eval('#flow-table script, #flow-table img, #chart script', (e) => e.length);
    check(cell.includes('<script>') && owned === undefined && injected === 0, `markup in a key is text (${cell.slice(0, 40)})`);

    // Polling: at most one request a second for the visible view.
    const from = Date.now();
    await page.waitForTimeout(5000);
    const polls = requests.filter((r) => r.at >= from && r.url.includes('/ui/api/top/json')).length;
    check(polls <= 6, `the flows view polls at most once a second (${polls} in 5 s)`);
  }

  // The broker view: the pipeline and its streams, with the counts of /pipelines/json.
  await page.click('nav a[data-view=broker]');
  await until('a stream row', async () => (await page.$$('#pipelines tr[data-stream]')).length >= 2);
  const pipelines = (await api('/pipelines/json')).json();
  const streams = pipelines.mirror.streams.map((s) => s.name).sort();
  const shown = (await page.$$eval('#pipelines tr[data-stream]', (t) => t.map((r) => r.dataset.stream))).sort();
  check(JSON.stringify(shown) === JSON.stringify(streams), `the broker lists the pipeline's streams (${shown})`);
  // The rows show exactly what the page's own poll of /pipelines/json said (traffic flows on,
  // so a fresh request is later than the page's: compare with the responses the page received).
  const streamFrames = (body) => Object.fromEntries(body.mirror.streams.map((s) => [s.name, s.frames]));
  const read = async () => Object.fromEntries(await page.$$eval('#pipelines tr[data-stream]',
    (t) => t.map((r) => [r.dataset.stream, Number(r.children[1].textContent)])));
  let shownFrames = {};
  const matched = await until('stream counts of a /pipelines/json the page received', async () => {
    shownFrames = await read();
    // By stream name, whatever order the rows and the response list them in.
    const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    return pipelineBodies.map(streamFrames).find((f) => same(f, shownFrames));
  }, 10000).catch(() => undefined);
  const later = streamFrames((await api('/pipelines/json')).json());
  const counted = matched && Object.entries(matched).every(([n, f]) => f > 0 && f <= later[n]);
  check(counted, `stream frame counts match /pipelines/json (${JSON.stringify(shownFrames)} shown, ${JSON.stringify(later)} now)`);
  // The pipeline's two workers: the frames each decoded, as a response the page received said.
  const perWorker = await until('the frames per worker', async () => {
    const shownWorkers = await page.$eval('#pipelines .figure:has(span:text-is("frames per worker")) b', (b) => b.textContent);
    return pipelineBodies.some((b) => b.mirror.workers?.join(' / ') === shownWorkers) && shownWorkers;
  }, 10000).catch(() => undefined);
  check(perWorker !== undefined, `the broker shows the frames per worker (${perWorker})`);
  await page.$eval('#pipelines tr[data-stream]', (tr) => { tr.dataset.mark = 'seen'; });
  await page.waitForTimeout(2500);
  check((await page.$$('#pipelines tr[data-stream][data-mark="seen"]')).length === 1,
    'a refresh keeps the stream rows shown (a click on a stream is not lost)');
  await page.screenshot({ path: `${shots}/broker.png`, fullPage: true });
  if (!readonly) {
    // A stream's name opens its flows.
    await page.click('#pipelines a.stream');
    await until('the flows view', async () => !(await page.isHidden('#view-flows')));
    const chips = await page.$$eval('#chips .chip', (c) => c.map((x) => x.firstChild.textContent));
    check(chips.some((c) => c.startsWith('vxlanvni=')), `a stream opens its flows, filtered (${chips})`);
  }

  // The collector view: agents and the events list.
  await page.click('nav a[data-view=collector]');
  await until('an agent row', async () => (await page.$$eval('#agents-table tbody tr td', (t) => t.length)) > 2);
  const agent = await page.textContent('#agents-table tbody tr:first-child td:first-child');
  const agents = Object.keys((await api('/agents/json')).json());
  check(agents.includes(agent), `the collector lists the agents (${agent})`);
  await page.screenshot({ path: `${shots}/collector.png`, fullPage: true });
} catch (e) {
  // What the page showed when a wait ran out.
  failures.push(e.message);
  const page = browser.contexts()[0]?.pages()[0];
  if (page) {
    await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
    console.log((await page.evaluate(() => document.querySelector('main').innerText).catch(() => '')).slice(0, 2000));
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`${failures.length} failed:\n` + failures.join('\n'));
  process.exit(1);
}

// Keeps detunnel's web UI open on a view for a while, as a user leaves it (for bench/ui.py).
// Usage: node open.mjs URL SECONDS
import { launch } from './browser.mjs';

const [url, seconds] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  let requests = 0;
  page.on('request', () => requests++);
  const started = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  const loadMs = Date.now() - started;
  await page.waitForTimeout(Number(seconds) * 1000);
  const rows = (await page.$$('#flow-table tbody tr')).length;
  console.log(JSON.stringify({ loadMs, requests, rows }));
} finally {
  await browser.close();
}

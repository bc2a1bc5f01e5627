// Keeps detunnel's web UI open on a view for a while, as a user leaves it (for bench/ui.py).
// Usage: node open.mjs URL SECONDS
import { chromium } from 'playwright-core';

const [url, seconds] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  let requests = 0;
  page.on('request', () => requests++);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForTimeout(Number(seconds) * 1000);
  const rows = (await page.$$('#flow-table tbody tr')).length;
  console.log(JSON.stringify({ requests, rows }));
} finally {
  await browser.close();
}

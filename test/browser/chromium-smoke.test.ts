/**
 * The browser-test harness itself: the system Chromium starts headless, renders a page served on 127.0.0.1,
 * runs its script on a click, and the request tracker sees only loopback requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium, requestsLeavingLoopback, trackRequests, type LaunchedChromium } from '../fixtures/chromium.js';

const PAGE = `<!doctype html><html><body>
<button id="go">go</button><p id="out">idle</p>
<script>document.getElementById('go').onclick = () => { document.getElementById('out').textContent = 'clicked ' + (6 * 7); };</script>
</body></html>`;

describeWithChromium('headless Chromium harness', () => {
  let server: Server;
  let base = '';
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((r) => server?.close(r));
  });

  it('renders a loopback page, runs its script on a click, and no request leaves 127.0.0.1', async () => {
    const page = await chromium.browser.newPage();
    const urls = trackRequests(page);
    await page.goto(base);
    expect(await page.textContent('#out')).toBe('idle');
    await page.click('#go');
    expect(await page.textContent('#out')).toBe('clicked 42');
    expect(urls.length).toBeGreaterThan(0);
    expect(requestsLeavingLoopback(urls)).toEqual([]);
    await page.close();
  });

  it('the request filter flags non-loopback hosts and keeps in-page schemes', () => {
    expect(requestsLeavingLoopback(['http://127.0.0.1:1/a', 'data:,x', 'blob:http://127.0.0.1/1', 'https://example.org/x'])).toEqual([
      'https://example.org/x',
    ]);
  });
});

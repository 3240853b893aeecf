// The contributor's first load: the bytes on the wire from opening the page
// in a fresh profile until Contribute answers, then what the service
// worker's install adds, in the release page in Debian's headless Chromium.
// `cargo xtask bench room` runs it (and then its 50-client load test); it
// prints figures and never asserts them. It prints the files fetched as
// JSON on its last line, for the load test to fetch the same ones.
//
// Environment:
//   PREFAB_URL   the release build's root (default http://127.0.0.1:8080/)
//   CHROMIUM     the browser binary (default /usr/bin/chromium)

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

const profile = await mkdtemp(path.join(tmpdir(), 'prefab-room-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const seen = [];
  let phase = 'page';
  // Service workers' requests are reported too (Chromium): the install's revalidations.
  context.on('requestfinished', async (request) => {
    const sizes = await request.sizes();
    const response = await request.response();
    seen.push({
      phase,
      path: new URL(request.url()).pathname,
      status: response?.status(),
      encoding: (await response?.headerValue('content-encoding')) ?? 'identity',
      bytes: sizes.responseHeadersSize + sizes.responseBodySize,
      byServiceWorker: Boolean(request.serviceWorker()),
    });
  });
  await page.goto(new URL('#/contribute', baseUrl).href);
  await page.getByTestId('page-contribute').waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid="project-opening"]') && document.querySelector('[data-testid="worker-status"]'));
  phase = 'service worker';
  await page.evaluate(() => navigator.serviceWorker.ready);
  // The install's last answers may still be on their way to the event handler.
  await page.waitForLoadState('networkidle');

  const total = (which) => seen.filter((entry) => entry.phase === which).reduce((sum, entry) => sum + entry.bytes, 0);
  console.log('A contributor opening the page (fresh profile), bytes on the wire (headers and bodies):');
  for (const entry of seen) {
    console.log(`  ${entry.phase.padEnd(15)} ${String(entry.status).padEnd(4)} ${entry.encoding.padEnd(9)} ${kB(entry.bytes).padStart(10)}  ${entry.path}${entry.byServiceWorker ? ' (service worker)' : ''}`);
  }
  console.log(`until Contribute answers: ${kB(total('page'))} [aim: under 500 kB]; the service worker's install after: ${kB(total('service worker'))}`);
  console.log(`model worker fetched: ${seen.some((entry) => entry.path.includes('prefab-worker')) ? 'yes' : 'no'}`);
  console.log(JSON.stringify([...new Set(seen.filter((entry) => entry.phase === 'page').map((entry) => entry.path))]));
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}

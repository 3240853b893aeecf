// The app shell: the server's headers, the page, its navigation, and the model worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { baseUrl, modelFile, openBrowser, collectErrors, screenshot } from './browser.mjs';

const PLACES = ['contribute', 'build', 'export', 'settings'];

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

test('the server sends each file with the MIME type and isolation headers the browser needs', async () => {
  const page = await fetch(baseUrl);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');

  const wasm = await fetch(new URL('prefab-app_bg.wasm', baseUrl));
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(new Uint8Array(await wasm.arrayBuffer()).slice(0, 4).join(), '0,97,115,109'); // "\0asm"

  const worker = await fetch(new URL('prefab-worker_loader.js', baseUrl));
  assert.equal(worker.headers.get('content-type'), 'text/javascript; charset=utf-8');

  const model = await fetch(new URL(`models/${modelFile}`, baseUrl), { method: 'HEAD' });
  assert.equal(model.status, 200);
  assert.equal(model.headers.get('content-length'), '98362432');

  // dist/../Cargo.toml exists: a server that followed `..` would leak it.
  assert.equal(await rawStatus('/../Cargo.toml'), 404);
  assert.equal(await rawStatus('/models/../../Cargo.toml'), 404);
});

/** GETs a path exactly as written (fetch would normalize the `..` away). */
function rawStatus(path) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    http.get({ hostname, port, path }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
}

test('the page loads with no console errors, navigates between its four places, and the worker answers a ping once Build opens', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(baseUrl);
  await page.getByTestId('page-contribute').waitFor();
  assert.equal(await page.evaluate(() => window.crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated');
  // Rating needs no model: the worker starts when Build opens (or a model is needed).
  const status = page.getByTestId('worker-status');
  assert.equal(await status.getAttribute('data-state'), 'idle', await status.textContent());
  assert.equal(await status.textContent(), 'Model worker: starts when a model is needed');

  for (const place of [...PLACES.slice(1), PLACES[0]]) {
    await page.getByTestId(`nav-${place}`).click();
    await page.getByTestId(`page-${place}`).waitFor();
    assert.equal(new URL(page.url()).hash, `#/${place}`);
    assert.equal(await page.getByTestId(`nav-${place}`).getAttribute('aria-current'), 'page');
    assert.equal(await page.locator('nav a[aria-current="page"]').count(), 1);
  }

  // Build was opened: the worker started.
  await page.getByTestId('nav-build').click();
  await page.waitForFunction(() => !['idle', 'starting'].includes(document.querySelector('[data-testid="worker-status"]')?.dataset.state));
  assert.equal(await status.getAttribute('data-state'), 'ready', await status.textContent());
  assert.match(await status.textContent(), /^Model worker: ready \(v\d+\.\d+\.\d+, ping \d+\.\d ms\)$/);

  await screenshot(page, 'shell');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a reload or a shared link opens the place in the address, and an unknown one opens Contribute', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(new URL('#/export', baseUrl).href);
  await page.getByTestId('page-export').waitFor();
  await page.reload();
  await page.getByTestId('page-export').waitFor();
  assert.equal(await page.locator('h1').textContent(), 'Export');

  await page.goto(new URL('#/nowhere', baseUrl).href);
  await page.getByTestId('page-contribute').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('the browser back button returns to the previous place', async () => {
  const page = await browser.context.newPage();
  await page.goto(baseUrl);
  await page.getByTestId('nav-build').click();
  await page.getByTestId('page-build').waitFor();
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('page-settings').waitFor();
  await page.goBack();
  await page.getByTestId('page-build').waitFor();
  assert.equal(new URL(page.url()).hash, '#/build');
  await page.close();
});

test('a Content-Security-Policy refuses injected inline scripts and eval, and the page works under it', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const violations = [];
  page.on('console', (message) => {
    if (/Content Security Policy/.test(message.text())) violations.push(message.text());
  });
  await page.goto(new URL('#/build', baseUrl).href);
  await page.getByTestId('use-demo').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]')?.textContent === '10 prompts');
  await page.waitForFunction(() => document.querySelector('[data-testid="worker-status"]')?.dataset.state === 'ready');
  const policy = await page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content);
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/=]+';/);
  assert.doesNotMatch(policy, /script-src[^;]*'unsafe-(inline|eval)'/);
  assert.deepEqual(violations, [], 'the page itself needs nothing the policy refuses');

  // What an injected payload would try: an inline script, an inline handler, eval.
  const outcome = await page.evaluate(async () => {
    const refused = new Promise((resolve) => document.addEventListener('securitypolicyviolation', (event) => resolve(event.violatedDirective), { once: true }));
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true;';
    document.head.append(script);
    const image = document.createElement('img');
    image.setAttribute('onerror', 'window.__handler = true;');
    image.src = 'data:,not-an-image';
    document.body.append(image);
    await new Promise((resolve) => setTimeout(resolve, 200));
    let evaluated = false;
    try {
      evaluated = eval('true');
    } catch {
      evaluated = false;
    }
    return { directive: await refused, injected: window.__injected === true, handler: window.__handler === true, evaluated };
  });
  assert.match(outcome.directive, /^script-src/);
  assert.deepEqual({ ...outcome, directive: undefined }, { directive: undefined, injected: false, handler: false, evaluated: false });
  // The refusals are logged as errors; nothing else is.
  assert.deepEqual(errors.filter((error) => !/Content Security Policy/.test(error)), []);
  await page.close();
});

// Offline-first: after one visit the page, its wasm and the chosen model
// open and work with no network (rating, the local model, export); a new
// version waits for "Reload to update"; the browser is asked to keep the
// storage, and a full disk is a clear message that loses nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseUrl, openBrowser, collectErrors, storedValues, importCompletions, place } from './browser.mjs';

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

/** Waits until the service worker is active and controls the page. */
const controlled = (page) =>
  page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
    return navigator.serviceWorker.controller.scriptURL;
  });

const progressIs = (page, text) =>
  page.waitForFunction((text) => document.querySelector('[data-testid="rating-progress"]')?.textContent === text, text);

/** Rates the completion on screen 👍 (`y`) and waits for `done of total`. */
async function rateOne(page, line) {
  await page.keyboard.press('y');
  await page.keyboard.press('Enter');
  await progressIs(page, line);
}

const modelReady = (page) =>
  page.waitForFunction(() => document.querySelector('[data-testid="model-status"]')?.dataset.state === 'ready', undefined, { timeout: 120_000 });

const completions = [
  { prompt: 'Name a fruit.', completion: 'An apple.', model: 'm1' },
  { prompt: 'Name a fruit.', completion: 'A pear.', model: 'm2' },
  { prompt: 'Name a colour.', completion: 'Blue.', model: 'm1' },
  { prompt: 'Name a colour.', completion: 'Green.', model: 'm2' },
];

test('after one visit the page rates, generates with the cached model and exports with no network', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const fetched = [];
  page.on('request', (request) => fetched.push(new URL(request.url()).pathname));

  // A contributor's first visit: the page, not the model worker.
  await page.goto(place('contribute'));
  await page.getByTestId('page-contribute').waitFor();
  assert.match(await controlled(page), /\/sw\.js$/);
  assert.equal(await page.getByTestId('worker-status').getAttribute('data-state'), 'idle');
  assert.deepEqual(fetched.filter((name) => name.includes('prefab-worker')), [], 'rating needs no model worker');

  // The organizer's visit: completions to rate, the default model loaded (and cached).
  await importCompletions(page, 'offline.jsonl', completions);
  await page.goto(place('settings'));
  await page.getByTestId('model-origin-default').check();
  await page.getByTestId('model-load').click();
  await modelReady(page);
  await page.goto(place('contribute'));
  await page.getByTestId('rating-mode').selectOption('thumbs');
  await progressIs(page, '0 of 4 rated');
  await rateOne(page, '1 of 4 rated');

  // No network at all from here: the page and its files come from the service worker.
  await browser.context.setOffline(true);
  try {
    await page.reload();
    await page.getByTestId('page-contribute').waitFor();
    await progressIs(page, '1 of 4 rated');
    await rateOne(page, '2 of 4 rated');
    assert.equal((await storedValues(page, 'ratings')).length, 2);

    // The model from the cache, in the model worker from the service worker's cache.
    await page.goto(place('settings'));
    await page.getByTestId('model-origin-default').check();
    await page.getByTestId('model-load').click();
    await modelReady(page);
    await page.getByTestId('try-prompt').fill('Name a fruit.');
    await page.getByTestId('try-generate').click();
    await page.getByTestId('try-stats').waitFor({ timeout: 120_000 });
    assert.ok((await page.getByTestId('try-output').textContent()).trim().length > 0);

    // Export: the KTO file has both ratings.
    await page.goto(place('export'));
    await page.getByTestId('export-kto').check();
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
    const rows = (await readFile(await file.path(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(rows.map((row) => row.label), [true, true]);
  } finally {
    await browser.context.setOffline(false);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

/**
 * Fills the origin's storage with a database of random bytes (which does
 * not compress) until the browser refuses even a small write: the disk is
 * full, as far as the page can tell. Returns the bytes written.
 */
const fillStorage = (page) =>
  page.evaluate(async () => {
    const database = await new Promise((resolve, reject) => {
      const open = indexedDB.open('ballast', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('bytes');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const put = (size) =>
      new Promise((resolve) => {
        const data = new Uint8Array(size);
        for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(data.subarray(offset, offset + 65536));
        const transaction = database.transaction('bytes', 'readwrite');
        transaction.objectStore('bytes').put(data, `${size}-${Math.random()}`);
        transaction.oncomplete = () => resolve(true);
        transaction.onabort = () => resolve(transaction.error?.name === 'QuotaExceededError' ? false : transaction.error?.name);
      });
    let written = 0;
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1 << 6]) {
      for (let answer; (answer = await put(size)) === true; ) written += size;
    }
    database.close();
    return written;
  });

test('a full disk refuses the rating with a clear message, keeps the ones stored, and the page asks to keep its storage', async (t) => {
  // A project of its own: the first test's ratings are in the other browser's profile.
  const own = await openBrowser();
  t.after(() => own.close());
  const page = await own.context.newPage();
  const errors = collectErrors(page);
  const cdp = await own.context.newCDPSession(page);
  const origin = new URL(baseUrl).origin;
  // A device with 24 MB for this page, set before the page stores anything
  // (the browser checks a write against what it last knew was free).
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 24 << 20 });
  t.after(() => cdp.send('Storage.overrideQuotaForOrigin', { origin }).catch(() => {}));
  // The browser would grant persistence to an installed or bookmarked site; here, to this one.
  await cdp.send('Browser.grantPermissions', { origin, permissions: ['durableStorage'] });
  await importCompletions(page, 'quota.jsonl', completions);
  await page.goto(place('contribute'));
  await page.getByTestId('rating-mode').selectOption('thumbs');
  await progressIs(page, '0 of 4 rated');
  await rateOne(page, '1 of 4 rated');
  // After the first stored rating the page asked to keep its storage, and says so.
  await page.waitForFunction(() => document.querySelector('[data-testid="storage-use"]')?.dataset.persisted === 'true');
  assert.match(await page.getByTestId('storage-use').textContent(), /^Stored on this device: [\d.]+ [kMG]?B of [\d.]+ [kMGT]?B available; kept until you clear it\.$/);

  // Something else fills the disk: the next rating is refused, said so, and the first stays.
  assert.ok((await fillStorage(page)) > 0);
  await page.keyboard.press('n');
  await page.keyboard.press('Enter');
  const problem = page.getByTestId('rating-problem');
  await problem.waitFor();
  assert.match(await problem.textContent(), /storage for Prefab is full, so this rating was not saved; every rating saved before is safe/);
  assert.equal(await page.getByTestId('rating-progress').textContent(), '1 of 4 rated');
  const stored = await storedValues(page, 'ratings');
  assert.deepEqual(stored.map(({ value }) => [value.kind, value.up]), [['kto_thumbs', true]]);

  // Space again: Enter tries the same answer once more.
  await page.evaluate(() => new Promise((resolve) => (indexedDB.deleteDatabase('ballast').onsuccess = resolve)));
  await page.keyboard.press('Enter');
  await progressIs(page, '2 of 4 rated');
  const after = await storedValues(page, 'ratings');
  assert.deepEqual(after.map(({ value }) => value.up).sort(), [false, true]);
  assert.deepEqual(errors, []);
});

/**
 * A copy of the release build served on a port of its own, with the same
 * headers as `cargo xtask serve`, so that the test can publish "a new
 * version" by changing it.
 */
async function servedCopy() {
  const folder = await mkdtemp(path.join(tmpdir(), 'prefab-version-'));
  for (const name of ['index.html', 'prefab-app.js', 'prefab-app_bg.wasm', 'style.css', 'manifest.webmanifest', 'icon.svg', 'sw.js']) {
    const file = await fetch(new URL(name, baseUrl));
    assert.equal(file.status, 200, name);
    await writeFile(path.join(folder, name), Buffer.from(await file.arrayBuffer()));
  }
  const types = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', wasm: 'application/wasm', css: 'text/css; charset=utf-8', webmanifest: 'application/manifest+json', svg: 'image/svg+xml' };
  const server = http.createServer(async (request, response) => {
    const name = new URL(request.url, 'http://x').pathname.slice(1) || 'index.html';
    try {
      const body = await readFile(path.join(folder, path.basename(name)));
      response.writeHead(200, {
        'Content-Type': types[name.split('.').pop()] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': 'no-cache',
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    /** Publishes a new version: a changed page and the service worker's new version. */
    async publish(version) {
      await writeFile(path.join(folder, 'index.html'), `${await readFile(path.join(folder, 'index.html'), 'utf8')}<!-- ${version} -->\n`);
      const script = await readFile(path.join(folder, 'sw.js'), 'utf8');
      await writeFile(path.join(folder, 'sw.js'), script.replace(/const VERSION = '[^']*';/, `const VERSION = '${version}';`));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(folder, { recursive: true, force: true });
    },
  };
}

test('a new version waits beside the open page and takes over on "Reload to update"', async (t) => {
  const copy = await servedCopy();
  t.after(() => copy.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${copy.url}#/contribute`);
  await page.getByTestId('page-contribute').waitFor();
  await controlled(page);
  const pageIsNew = () => page.evaluate(async () => (await (await fetch('./')).text()).includes('<!-- v2 -->'));
  assert.equal(await pageIsNew(), false);

  // A new version is published; the browser finds it when the page is opened again.
  await copy.publish('v2');
  await page.reload();
  await page.getByTestId('update-ready').waitFor({ timeout: 30_000 });
  // The open page still runs the version it started with.
  assert.equal(await pageIsNew(), false);
  assert.match(await page.getByTestId('update-ready').textContent(), /A new version of Prefab is ready/);

  await Promise.all([page.waitForEvent('load'), page.getByTestId('update-reload').click()]);
  await page.getByTestId('page-contribute').waitFor();
  assert.equal(await pageIsNew(), true, 'the new version serves its own files');
  assert.equal(await page.getByTestId('update-ready').count(), 0);
  const caches = await page.evaluate(async () => (await window.caches.keys()).filter((name) => name.startsWith('prefab-page-')));
  assert.deepEqual(caches, ['prefab-page-v2'], 'the old version is gone');
  assert.deepEqual(errors, []);
  await page.close();
});

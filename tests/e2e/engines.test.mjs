// Every engine: the contributor's path — open, rate by keyboard and by tap,
// reload, resume, export — and the local model's load and generation, in
// Firefox ESR (geckodriver) and WebKitGTK, Safari's engine (WebKitWebDriver,
// under Xvfb), both from Debian's packages, driven over WebDriver.
// `cargo xtask test` installs them and says where they are (GECKODRIVER,
// FIREFOX, WEBKIT_WEBDRIVER, WEBKIT_BROWSER, DISPLAY).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl } from './browser.mjs';
import { startDriver, newSession, ENTER } from './webdriver.mjs';

const place = (name) => new URL(`#/${name}`, baseUrl).href;

const ENGINES = [
  {
    name: 'Firefox ESR',
    driver: process.env.GECKODRIVER,
    args: (port) => ['--host', '127.0.0.1', '--port', String(port)],
    capabilities: {
      browserName: 'firefox',
      'moz:firefoxOptions': {
        binary: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
        args: ['-headless'],
        // This machine has no network but loopback: Firefox's own services stay off.
        prefs: { 'network.captive-portal-service.enabled': false, 'network.connectivity-service.enabled': false, 'app.update.disabledForTesting': true, 'browser.safebrowsing.update.enabled': false },
      },
    },
  },
  {
    name: 'WebKitGTK',
    driver: process.env.WEBKIT_WEBDRIVER,
    args: (port) => [`--port=${port}`],
    capabilities: {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: process.env.WEBKIT_BROWSER, args: ['--automation'] },
    },
  },
];

const completions = [
  { prompt: 'Name a fruit.', completion: 'An apple.', model: 'm1' },
  { prompt: 'Name a fruit.', completion: 'A pear.', model: 'm2' },
  { prompt: 'Name a colour.', completion: 'Blue.', model: 'm1' },
  { prompt: 'Name a colour.', completion: 'Green.', model: 'm2' },
];

const progress = (session, line) =>
  session.until('return document.querySelector(\'[data-testid="rating-progress"]\')?.textContent === arguments[0];', { args: [line], what: `progress "${line}"` });

for (const engine of ENGINES) {
  test(`${engine.name}: rate by keyboard and by tap, reload, resume, export; load the local model and generate`, async (t) => {
    assert.ok(engine.driver, `${engine.name}'s WebDriver is not installed: run the tests with cargo xtask test`);
    const driver = await startDriver(engine.driver, engine.args);
    const page = await newSession(driver.url, engine.capabilities).catch(async (error) => {
      await driver.stop();
      throw error;
    });
    // The session first: its end closes the browser, which the driver's end would orphan.
    t.after(async () => {
      await page.end().catch(() => {});
      await driver.stop();
    });
    // Errors the page logs or throws, kept across the steps of one page load.
    const watch = () =>
      page.run(`if (!window.__errors) { window.__errors = [];
        addEventListener('error', (event) => window.__errors.push(String(event.message)));
        addEventListener('unhandledrejection', (event) => window.__errors.push(String(event.reason)));
        const error = console.error.bind(console); console.error = (...args) => { window.__errors.push(args.join(' ')); error(...args); }; }`);
    const errors = () => page.run('return window.__errors ?? [];');

    // Completions to rate, brought as a file through Build's picker.
    await page.go(place('build'));
    await page.until('return document.querySelector(\'[data-testid="prompt-count"]\');', { what: 'Build' });
    await watch();
    await page.run(
      `const input = document.querySelector('[data-testid="prompt-file"]');
       const transfer = new DataTransfer();
       transfer.items.add(new File([arguments[0]], 'engines.jsonl', { type: 'application/json' }));
       input.files = transfer.files;
       input.dispatchEvent(new Event('change', { bubbles: true }));`,
      completions.map((row) => JSON.stringify(row)).join('\n'),
    );
    await page.click(await page.until('return document.querySelector(\'[data-testid="use-file"]\');', { what: 'the file read' }));
    await page.until('return document.querySelector(\'[data-testid="prompts-note"]\');', { what: 'the file imported' });

    // 👍/👎 by keyboard, then by tap.
    await page.go(place('contribute'));
    await page.run(
      `const select = document.querySelector('[data-testid="rating-mode"]');
       select.value = 'thumbs';
       select.dispatchEvent(new Event('change', { bubbles: true }));`,
    );
    await progress(page, '0 of 4 rated');
    await page.press('y', ENTER);
    await progress(page, '1 of 4 rated');
    await page.click(await page.findCss('[data-answer]'));
    await page.click(await page.find('submit'));
    await progress(page, '2 of 4 rated');
    assert.deepEqual(await errors(), []);

    // Reload: the ratings are there, and rating resumes where it was.
    await page.refresh();
    await progress(page, '2 of 4 rated');
    await watch();
    await page.press('n', ENTER);
    await progress(page, '3 of 4 rated');

    // Export: the KTO file the page hands to the browser, as written.
    await page.go(place('export'));
    await page.click(await page.until('return document.querySelector(\'[data-testid="export-kto"]\');', { what: 'Export' }));
    await page.run(
      `window.__exported = [];
       const create = URL.createObjectURL;
       URL.createObjectURL = (blob) => { window.__exported.push(blob); return create(blob); };`,
    );
    await page.click(await page.find('export-download'));
    const exported = await page.runAsync(
      `for (let waited = 0; !window.__exported?.length; waited += 50) {
         if (waited > 10000) return null;
         await new Promise((resolve) => setTimeout(resolve, 50));
       }
       return await window.__exported[0].text();`,
    );
    assert.ok(typeof exported === 'string', `the export was not handed over: ${JSON.stringify(exported)}`);
    const rows = exported.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(rows.map((row) => row.label).sort(), [false, true, true]);
    assert.ok(rows.every((row) => typeof row.prompt === 'string' && typeof row.completion === 'string'));

    // The local model: the default file, loaded in the worker, generating.
    await page.go(place('settings'));
    await page.click(await page.until('return document.querySelector(\'[data-testid="model-origin-default"]\');', { what: 'Settings' }));
    await page.click(await page.find('model-load'));
    const state = await page.until(
      `const status = document.querySelector('[data-testid="model-status"]');
       return ['ready', 'failed'].includes(status?.dataset.state) && { state: status.dataset.state, text: status.textContent };`,
      { timeout: 240_000, what: 'the model loaded' },
    );
    assert.equal(state.state, 'ready', state.text);
    await page.type(await page.find('try-prompt'), 'Name a fruit.');
    await page.click(await page.find('try-generate'));
    const stats = await page.until('return document.querySelector(\'[data-testid="try-stats"]\')?.textContent;', { timeout: 180_000, what: 'the generation' });
    assert.match(stats, /tokens written at [\d.]+ tok\/s/);
    const output = await page.text(await page.find('try-output'));
    assert.ok(output.trim().length > 0);
    assert.deepEqual(await errors(), []);
  });
}

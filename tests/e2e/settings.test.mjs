// Settings → Hosted endpoints, against llama.cpp's real OpenAI-compatible server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, openBrowser, collectErrors, screenshot, storedValues } from './browser.mjs';

const llamaUrl = process.env.PREFAB_LLAMA_URL;
const TOKEN = 'hf_e2e_secret_token_1234';

let browser;
before(async () => {
  assert.ok(llamaUrl, 'PREFAB_LLAMA_URL is set by `cargo xtask test`, which starts the server');
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

/** Fills the endpoint form. */
async function fill(page, { kind, url, model, token }) {
  await page.getByTestId('endpoint-kind').selectOption(kind);
  if (url !== undefined) await page.getByTestId('endpoint-url').fill(url);
  if (model !== undefined) await page.getByTestId('endpoint-model').fill(model);
  if (token !== undefined) await page.getByTestId('endpoint-token').fill(token);
}

/** Clicks "Test connection" and returns the outcome's state and text. */
async function testConnection(page) {
  await page.getByTestId('endpoint-test').click();
  await page.waitForFunction(() => {
    const state = document.querySelector('[data-testid="endpoint-outcome"]')?.dataset.state;
    return state === 'passed' || state === 'failed';
  });
  const outcome = page.getByTestId('endpoint-outcome');
  return { state: await outcome.getAttribute('data-state'), text: await outcome.textContent() };
}

/** Everything the page keeps in IndexedDB's settings store, as JSON text. */
const indexedDbDump = async (page) => JSON.stringify(await storedValues(page, 'settings'));

test('an endpoint is tested, added, kept across a reload, edited and removed; its token stays in the tab', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(new URL('#/settings', baseUrl).href);
  await page.getByTestId('endpoint-settings').waitFor();

  await fill(page, { kind: 'custom', url: `${llamaUrl}/v1`, model: 'smollm2', token: TOKEN });
  const passed = await testConnection(page);
  assert.equal(passed.state, 'passed', passed.text);
  assert.match(passed.text, /^Connected: 1 model\(s\) served \(smollm2\)$/);

  await page.getByTestId('endpoint-save').click();
  await page.getByTestId('endpoint-row').first().waitFor();
  assert.equal(await page.getByTestId('endpoint-row').count(), 1);
  assert.match(await page.getByTestId('endpoint-row').textContent(), new RegExp(`smollm2 @ ${llamaUrl}/v1`));
  await screenshot(page, 'settings-endpoints');

  // Kept across a reload (IndexedDB); the token only in this tab's sessionStorage.
  await page.reload();
  await page.getByTestId('endpoint-row').first().waitFor();
  assert.equal(await page.getByTestId('endpoint-row').count(), 1);
  const stored = await indexedDbDump(page);
  assert.match(stored, /smollm2/);
  assert.ok(!stored.includes(TOKEN), 'the token is not in IndexedDB');
  const local = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!local.includes(TOKEN), 'the token is not in localStorage');
  const session = await page.evaluate(() => JSON.stringify({ ...sessionStorage }));
  assert.ok(session.includes(TOKEN), 'the token is kept for this tab');
  assert.ok(!page.url().includes(TOKEN), 'the token is not in the URL');

  // Edit: the form comes back filled, token included; save a new model name.
  await page.getByRole('button', { name: 'Edit' }).click();
  assert.equal(await page.getByTestId('endpoint-model').inputValue(), 'smollm2');
  assert.equal(await page.getByTestId('endpoint-token').inputValue(), TOKEN);
  await page.getByTestId('endpoint-model').fill('no-such-model');
  const unknown = await testConnection(page);
  assert.equal(unknown.state, 'failed');
  assert.match(unknown.text, /does not serve this model: "no-such-model" is not among the 1 it serves \(smollm2\)/);
  await page.getByTestId('endpoint-save').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="endpoint-row"]')?.textContent.includes('no-such-model'));

  // Remove: gone, also after a reload, and its token with it.
  await page.getByRole('button', { name: 'Remove' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="endpoint-row"]').length === 0);
  await page.reload();
  await page.getByTestId('endpoint-settings').waitFor();
  await page.waitForTimeout(300); // give the saved list time to load, if it (wrongly) still held the row
  assert.equal(await page.getByTestId('endpoint-row').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('test connection names an unreachable server and refuses a URL without a scheme', async () => {
  const page = await browser.context.newPage();
  await page.goto(new URL('#/settings', baseUrl).href);
  await fill(page, { kind: 'custom', url: 'http://127.0.0.1:9/v1', model: 'smollm2' });
  const unreachable = await testConnection(page);
  assert.equal(unreachable.state, 'failed');
  assert.match(unreachable.text, /^no answer: the server is not running at that address, or it does not allow this page.s origin \(CORS\): .*it must allow the origin http:\/\/127\.0\.0\.1:\d+$/);

  await fill(page, { url: 'localhost:8000/v1' , kind: 'custom' });
  const refused = await testConnection(page);
  assert.match(refused.text, /is not an http:\/\/ or https:\/\/ URL/);
  await page.close();
});

test('endpoint names are shown as text, never as HTML', async () => {
  const page = await browser.context.newPage();
  let dialogs = 0;
  page.on('dialog', (dialog) => {
    dialogs += 1;
    dialog.dismiss();
  });
  await page.goto(new URL('#/settings', baseUrl).href);
  const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';
  await fill(page, { kind: 'router', model: payload });
  await page.getByTestId('endpoint-save').click();
  await page.getByTestId('endpoint-row').first().waitFor();
  assert.equal(await page.getByTestId('endpoint-row').locator('.endpoint-label').textContent(), payload);
  assert.equal(await page.locator('[data-testid="endpoint-list"] img, [data-testid="endpoint-list"] script').count(), 0);
  assert.equal(dialogs, 0);
  await page.close();
});

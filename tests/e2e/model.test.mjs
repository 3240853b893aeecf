// Settings → Local model, used as a person would: load the default model,
// try a prompt and watch it stream, stop one, manage the cache, and pick a
// file that is not a model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, openBrowser, collectErrors, screenshot } from './browser.mjs';

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

/** Waits for the model status to settle and returns its state and text. */
async function settledStatus(page) {
  await page.waitForFunction(
    () => ['ready', 'failed'].includes(document.querySelector('[data-testid="model-status"]')?.dataset.state),
    undefined,
    { timeout: 120_000 },
  );
  const status = page.getByTestId('model-status');
  return { state: await status.getAttribute('data-state'), text: await status.textContent() };
}

test('a picked file that is not a model is refused by name, and the page keeps working', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(new URL('#/settings', baseUrl).href);
  await page.getByTestId('model-file').setInputFiles({
    name: 'holiday-photo.gguf',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from('JFIF not a model at all'),
  });
  await page.getByTestId('model-load').click();
  const status = await settledStatus(page);
  assert.equal(status.state, 'failed');
  assert.match(status.text, /holiday-photo\.gguf/);
  assert.match(status.text, /GGUF/);
  // The rest of the page still answers.
  await page.getByTestId('nav-contribute').click();
  await page.getByTestId('page-contribute').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('the default model loads with progress, streams an answer with its speed, stops, and is cached', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(new URL('#/settings', baseUrl).href);
  assert.equal(await page.getByTestId('cache-empty').count(), 1, 'nothing cached in a fresh profile');

  await page.getByTestId('model-origin-default').check();
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="model-status"]')?.dataset.state === 'loading');
  const status = await settledStatus(page);
  assert.equal(status.state, 'ready', status.text);
  assert.match(status.text, /SmolLM2/i);
  assert.match(await page.getByTestId('model-memory').textContent(), /MB/);
  // One engine worker per core, at most 4 (the test model is far below the
  // memory budget), each with the model loaded before it says ready.
  const engines = Math.min(await page.evaluate(() => navigator.hardwareConcurrency), 4);
  const runsIn = await page.getByTestId('model-engines').textContent();
  assert.match(runsIn, engines === 1 ? /^1 engine worker/ : new RegExp(`^${engines} engine workers`), runsIn);

  // Generate: text arrives while the request runs, then the stats.
  await page.getByTestId('try-prompt').fill('Write a haiku about mountains.');
  await page.getByTestId('try-generate').click();
  await page.waitForFunction(() => {
    const output = document.querySelector('[data-testid="try-output"]');
    return output.dataset.state === 'running' && output.textContent.length > 0;
  });
  await page.getByTestId('try-stats').waitFor({ timeout: 120_000 });
  assert.ok((await page.getByTestId('try-output').textContent()).trim().length > 0);
  assert.match(await page.getByTestId('try-stats').textContent(), /prompt tokens read at \d+ tok\/s · \d+ tokens written at [\d.]+ tok\/s/);
  await screenshot(page, 'settings-model');

  // Stop a long answer mid-way.
  await page.getByTestId('try-prompt').fill('Tell me a very long story about a dragon, with many chapters.');
  await page.getByTestId('try-generate').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="try-output"]').textContent.length > 0);
  await page.getByTestId('try-stop').click();
  await page.getByTestId('try-stats').waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId('try-stats').textContent(), /stopped$/);

  // The file is cached, still after a reload; deleting empties the cache.
  await page.getByTestId('cache-entry').waitFor();
  await page.reload();
  const entry = page.getByTestId('cache-entry');
  await entry.waitFor();
  assert.match(await entry.textContent(), /SmolLM2-135M-Instruct\.Q4_1\.gguf.*98\.4 MB/);
  await entry.getByRole('button', { name: /Delete/ }).click();
  await page.getByTestId('cache-empty').waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

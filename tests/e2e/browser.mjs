// What every end-to-end test shares: where the page is, where artifacts go,
// and Debian's headless Chromium driven by playwright-core (never a browser
// that Playwright downloads).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The release build, served by `cargo xtask test` (or by `cargo xtask serve`). */
export const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';

/** The address of a place of the page (`build`, `contribute`, …). */
export const place = (name) => new URL(`#/${name}`, baseUrl).href;

/** Screenshots and logs land here; `cargo xtask test` prints the folder. */
export const outputDir = process.env.PREFAB_TEST_OUTPUT ?? path.resolve('../../target/test-output');

/** The default model's file name under `/models/`. */
export const modelFile = process.env.PREFAB_MODEL_FILE ?? 'SmolLM2-135M-Instruct.Q4_1.gguf';

// This machine has no network but loopback: without these flags Chromium
// keeps trying to reach Google's services.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts Chromium with a fresh profile (so IndexedDB starts empty) and
 * returns it with a `close` that also deletes the profile.
 */
export async function openBrowser() {
  const profile = await mkdtemp(path.join(tmpdir(), 'prefab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // This machine has no network but loopback: without these flags Chromium
    // keeps trying to reach Google's services.
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Collects a page's console errors and uncaught exceptions, its workers' included. */
export function collectErrors(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('worker', (worker) => {
    worker.on('console', (message) => {
      if (message.type() === 'error') errors.push(`worker console: ${message.text()}`);
    });
  });
  return errors;
}

/** Dismisses every dialog (`alert()` from injected HTML would open one) and counts them. */
export function countDialogs(page) {
  const dialogs = { count: 0 };
  page.on('dialog', (dialog) => {
    dialogs.count += 1;
    dialog.dismiss();
  });
  return dialogs;
}

/** Saves a full-page screenshot into the test output folder and returns its path. */
export async function screenshot(page, name) {
  await mkdir(outputDir, { recursive: true });
  const file = path.join(outputDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Every value of one object store of the page's IndexedDB database. */
export function storedValues(page, store) {
  return page.evaluate(
    (store) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('prefab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => {
            open.result.close();
            resolve(request.result);
          };
          request.onerror = () => reject(request.error);
        };
      }),
    store,
  );
}

const jsonlBuffer = (rows) => Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'));

/** Imports prompt/completion/model rows through Build's file picker. */
export async function importCompletions(page, name, rows) {
  await page.goto(new URL('#/build', baseUrl).href);
  await page.getByTestId('prompt-count').waitFor();
  await page.getByTestId('prompt-file').setInputFiles({ name, mimeType: 'application/json', buffer: jsonlBuffer(rows) });
  // The completion and model columns are proposed from their names.
  await page.getByTestId('completion-column').waitFor();
  assert.equal(await page.getByTestId('completion-column').locator('option:checked').textContent(), 'completion');
  assert.equal(await page.getByTestId('model-column').locator('option:checked').textContent(), 'model');
  await page.getByTestId('use-file').click();
  await page.getByTestId('prompts-note').waitFor();
}


/** Starts one Chromium for several separate people (one context each). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Build's "Clear prompts", confirmed; waits until the list is empty. */
export async function clearPrompts(page) {
  if ((await page.getByTestId('prompt-count').textContent()) !== '0 prompts') {
    await page.getByTestId('clear-prompts').click();
    await page.getByTestId('clear-confirm-yes').click();
  }
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]').textContent === '0 prompts');
}

/** Export's Download, set up as it is: the data file and its card, both offered by one click. */
export async function downloadExport(page) {
  const downloads = [];
  page.on('download', (download) => downloads.push(download));
  await page.getByTestId('export-download').click();
  await page.waitForFunction(() => /Downloaded/.test(document.querySelector('[data-testid="export-outcome"]')?.textContent ?? ''));
  // The second file follows the first within moments.
  for (let waited = 0; downloads.length < 2 && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  return downloads;
}

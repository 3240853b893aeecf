// The local model a run was made with, across reloads: the pool resumes
// with the model that last loaded (not the default one), another model
// plans new items beside the first's, and a model picked from the computer
// must be picked again, which the run says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseUrl, modelFile, openBrowser, collectErrors, storedValues, place } from './browser.mjs';

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

const ready = (page) =>
  page.waitForFunction(() => document.querySelector('[data-testid="model-status"]')?.dataset.state === 'ready', undefined, { timeout: 120_000 });

/** Names the loaded model's generations in Settings. */
async function nameModel(page, name) {
  await page.goto(place('settings'));
  await ready(page);
  await page.getByTestId('model-id').fill(name);
  await page.getByTestId('model-id').press('Enter');
  await page.getByTestId('model-id-saved').waitFor({ timeout: 5_000 });
}

/** Adds prompts by pasting them on the Build page. */
async function addPrompts(page, text, count) {
  await page.goto(place('build'));
  await page.getByTestId('paste-prompts').fill(text);
  await page.getByTestId('add-pasted').click();
  await page.waitForFunction((count) => document.querySelector('[data-testid="prompt-count"]').textContent.startsWith(`${count} prompt`), count);
}

/** Runs the pool and waits until `done` of `total` items are. */
async function runUntil(page, done, total) {
  await page.getByTestId('run-start').click();
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid="run-status"]')?.textContent.startsWith(expected),
    `${done} of ${total} done`,
    { timeout: 180_000 },
  );
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.dataset.state !== 'running');
}

/** The local model's state and status line, from Settings; back to Build. */
async function modelStatus(page) {
  await page.goto(place('settings'));
  const status = page.getByTestId('model-status');
  const seen = { state: await status.getAttribute('data-state'), text: await status.textContent() };
  await page.goto(place('build'));
  return seen;
}

/** The model of each stored generation, counted. */
async function generationModels(page) {
  const counts = {};
  for (const item of await storedValues(page, 'items')) {
    if (item.status === 'done') counts[item.generation.model_id] = (counts[item.generation.model_id] ?? 0) + 1;
  }
  return counts;
}

test('a reload resumes the pool with the model that last loaded; another model plans new items beside', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  // A model from an address of its own (not the default one), named.
  await page.goto(place('settings'));
  await page.getByTestId('model-origin-address').check();
  const address = `./models/${modelFile}?copy=1`;
  await page.getByTestId('model-address').fill(address);
  await page.getByTestId('model-load').click();
  await nameModel(page, 'tests/first');

  await addPrompts(page, 'Say hi.\nName a colour.', 2);
  await page.getByTestId('pool-max-tokens').fill('8');
  await page.getByTestId('pool-samples').fill('1');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();
  await runUntil(page, 2, 2);

  // After a reload no model is loaded, yet the done items count (they are
  // the remembered model's), and a new prompt is answered by that model,
  // loaded again from its address.
  await page.reload();
  await addPrompts(page, 'Name a fruit.', 3);
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent.startsWith('2 of 3 done'));
  assert.equal((await modelStatus(page)).state, 'none');
  await runUntil(page, 3, 3);
  assert.deepEqual(await generationModels(page), { 'tests/first': 3 });
  assert.match((await modelStatus(page)).text, /copy=1/);

  // Named otherwise, the model is another: its items are new, the first
  // model's stay.
  await nameModel(page, 'tests/second');
  await page.goto(place('build'));
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent.startsWith('0 of 3 done'));
  await runUntil(page, 3, 3);
  assert.deepEqual(await generationModels(page), { 'tests/first': 3, 'tests/second': 3 });

  // A picked file cannot be opened again by the page after a reload: the
  // run says to pick it again instead of switching models.
  await page.goto(place('settings'));
  await page.getByTestId('model-origin-file').check();
  // Playwright hands over buffers up to 50 MB only: the model goes through a file.
  const folder = await mkdtemp(path.join(tmpdir(), 'prefab-picked-'));
  const picked = path.join(folder, 'picked.gguf');
  await writeFile(picked, Buffer.from(await (await fetch(new URL(`models/${modelFile}`, baseUrl))).arrayBuffer()));
  await page.getByTestId('model-file').setInputFiles(picked);
  await page.getByTestId('model-load').click();
  await nameModel(page, 'tests/picked');
  await page.reload();
  await page.goto(place('build'));
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent.startsWith('0 of 3 done'));
  await page.getByTestId('run-start').click();
  const problem = page.getByTestId('run-problem');
  await problem.waitFor({ timeout: 30_000 });
  assert.match(await problem.textContent(), /tests\/picked.*picked\.gguf.*pick it again/);
  assert.equal((await modelStatus(page)).state, 'none');
  assert.deepEqual(await generationModels(page), { 'tests/first': 3, 'tests/second': 3 });
  assert.deepEqual(errors, []);
  await page.close();
  await rm(folder, { recursive: true, force: true });
});

// The workshop flow with the real model: demo prompts → the local model
// pooled twice at two temperatures → every completion rated by keyboard,
// with a reload half-way → KTO and DPO downloads checked against what was
// rated, and a rating made just before the tab closes is there after a
// restart. Then: HTML in prompts stays text. (rating.test.mjs rates
// imported completions: the other questions and 1,000 ratings.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { openBrowser, collectErrors, countDialogs, screenshot, storedValues, place, clearPrompts, importCompletions, downloadExport } from './browser.mjs';

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

/** Every rating stored in IndexedDB. */
const storedRatings = (page) => storedValues(page, 'ratings');

async function addPoolEntry(page, temperature) {
  const before = await page.getByTestId('pool-entry').count();
  await page.getByTestId('pool-temperature').fill(String(temperature));
  await page.getByTestId('pool-max-tokens').fill('24');
  await page.getByTestId('pool-samples').fill('1');
  await page.getByTestId('pool-add').click();
  await page.waitForFunction((before) => document.querySelectorAll('[data-testid="pool-entry"]').length === before + 1, before);
}

/** Rates the task on screen with `key`, then Enter; waits for the next. */
async function rateWith(page, key) {
  const before = await page.getByTestId('rating-progress').textContent();
  await page.keyboard.press(key);
  await page.keyboard.press('Enter');
  await page.waitForFunction((before) => document.querySelector('[data-testid="rating-progress"]').textContent !== before, before);
}

test('demo prompts → local model pooled twice → rated by keyboard with a reload → KTO and DPO downloads match', async () => {
  let page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('build'));
  await page.getByTestId('use-demo').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]').textContent === '10 prompts');
  await addPoolEntry(page, 0.2);
  await addPoolEntry(page, 1.0);
  assert.equal(await page.getByTestId('pool-entry').count(), 2);

  await page.getByTestId('run-start').click();
  // Generations appear in the table as they finish; the progress bar counts them.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length >= 1, undefined, { timeout: 300_000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length === 20, undefined, { timeout: 600_000 });
  assert.match(await page.getByTestId('run-status').textContent(), /^20 of 20 done/);
  await screenshot(page, 'build');

  // The pool's results are kept: a reload shows them done, and Run redoes nothing.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length === 20);

  // Rate all 20 completions with thumbs: up for the first model's, down for the second's.
  await page.goto(place('contribute'));
  await page.getByTestId('task').waitFor();
  assert.equal(await page.getByTestId('rating-progress').textContent(), '0 of 20 rated');
  const rated = new Map();
  const rateCurrent = async () => {
    const generation = await page.getByTestId('completion').getAttribute('data-generation');
    const text = await page.getByTestId('completion').locator('p.completion').textContent();
    const up = rated.size % 3 !== 2;
    rated.set(generation, { up, text });
    await rateWith(page, up ? 'y' : 'ArrowDown');
  };
  for (let i = 0; i < 10; i++) await rateCurrent();
  // Undo the last one and rate it again (the same way).
  const last = [...rated.keys()].at(-1);
  await page.keyboard.press('z');
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]').textContent === '9 of 20 rated');
  assert.equal(await page.getByTestId('completion').getAttribute('data-generation'), last);
  await rateWith(page, rated.get(last).up ? 'y' : 'n');

  // Reload half-way: the ten ratings are there, and rating resumes at the eleventh.
  await page.reload();
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]')?.textContent === '10 of 20 rated');
  await page.keyboard.press('y');
  await screenshot(page, 'contribute');
  for (let i = 0; i < 10; i++) await rateCurrent();
  await page.getByTestId('rating-done').waitFor();
  assert.equal(rated.size, 20);
  // Close the tab right after the last rating: a new tab finds all twenty.
  await page.close();
  page = await browser.context.newPage();
  const laterErrors = collectErrors(page);
  await page.goto(place('export'));
  assert.equal((await storedRatings(page)).length, 20);

  // Export KTO as JSONL and check every row against what was rated.
  await page.goto(place('export'));
  await page.getByTestId('export-kto').check();
  const [kto] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
  assert.equal(kto.suggestedFilename(), 'kto.jsonl');
  const rows = (await readFile(await kto.path(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(rows.length, 20);
  const byText = new Map([...rated.values()].map((r) => [r.text, r.up]));
  for (const row of rows) {
    assert.deepEqual(Object.keys(row).slice(0, 3), ['prompt', 'completion', 'label']);
    assert.ok(byText.has(row.completion), `a rated completion: ${row.completion}`);
    assert.equal(row.label, byText.get(row.completion));
  }
  await page.getByTestId('export-outcome').waitFor();
  await screenshot(page, 'export');

  // DPO from thumbs: a chosen 👍 and a rejected 👎 of the same prompt.
  await page.getByTestId('export-dpo').check();
  const [dpo] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
  const pairs = (await readFile(await dpo.path(), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  assert.ok(pairs.length > 0, 'some prompts have a 👍 and a 👎');
  for (const pair of pairs) {
    assert.equal(byText.get(pair.chosen), true, `chosen was rated up: ${pair.chosen}`);
    assert.equal(byText.get(pair.rejected), false, `rejected was rated down: ${pair.rejected}`);
  }
  assert.deepEqual([...errors, ...laterErrors], []);
  await page.close();
});

test('prompts with HTML payloads are shown as text', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const dialogs = countDialogs(page);
  await page.goto(place('build'));
  await clearPrompts(page);
  const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>'];
  await page.getByTestId('paste-prompts').fill(payloads.join('\n'));
  await page.getByTestId('add-pasted').click();
  await page.waitForFunction(() => document.querySelectorAll('.prompt-list li').length >= 2);
  const shown = await page.locator('.prompt-list li').allTextContents();
  for (const payload of payloads) assert.ok(shown.includes(payload), `${payload} is shown as typed`);
  assert.equal(await page.locator('.prompt-list img, .prompt-list script').count(), 0);
  assert.equal(dialogs.count, 0, 'no alert() ran');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a hosted endpoint in the pool runs several items at once', async () => {
  const llamaUrl = process.env.PREFAB_LLAMA_URL;
  assert.ok(llamaUrl, 'PREFAB_LLAMA_URL is set by `cargo xtask test`, which starts the server');
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('settings'));
  await page.getByTestId('endpoint-kind').selectOption('custom');
  await page.getByTestId('endpoint-url').fill(`${llamaUrl}/v1`);
  await page.getByTestId('endpoint-model').fill('smollm2');
  await page.getByTestId('endpoint-save').click();
  await page.getByTestId('endpoint-row').first().waitFor();

  await page.goto(place('build'));
  await clearPrompts(page);
  await page.getByTestId('paste-prompts').fill('Name a river.\nName a mountain.\nName a city.');
  await page.getByTestId('add-pasted').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]').textContent === '3 prompts');
  // Only the hosted entry: remove the local ones the first test added.
  while ((await page.getByTestId('pool-entry').count()) > 0) {
    const count = await page.getByTestId('pool-entry').count();
    await page.getByTestId('pool-entry').first().getByRole('button', { name: /Remove/ }).click();
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid="pool-entry"]').length === count - 1, count);
  }
  const endpoint = await page.getByTestId('pool-model').locator('option', { hasText: 'smollm2' }).getAttribute('value');
  await page.getByTestId('pool-model').selectOption(endpoint);
  await page.getByTestId('pool-samples').fill('2');
  await page.getByTestId('pool-max-tokens').fill('16');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();

  await page.getByTestId('run-start').click();
  // Several requests are in flight together (the server queues them).
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="running"]').length >= 2, undefined, { timeout: 60_000, polling: 20 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length === 6, undefined, { timeout: 300_000 });
  assert.match(await page.getByTestId('run-status').textContent(), /^6 of 6 done/);
  const hosted = (await storedValues(page, 'items')).filter((item) => item.generation?.backend?.kind === 'hosted');
  assert.equal(hosted.length, 6);
  for (const item of hosted) {
    assert.equal(item.generation.model_id, 'smollm2');
    assert.ok(item.generation.text.length > 0);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test("an export's card is named after its file, and the raw option names exactly the columns the file has", async () => {
  // A profile of its own: the other tests' project does not matter here.
  const own = await openBrowser();
  try {
    const page = await own.context.newPage();
    const errors = collectErrors(page);
    await importCompletions(page, 'answers.jsonl', [
      { prompt: 'Name a colour.', completion: 'Blue.', model: 'model-a' },
      { prompt: 'Name a colour.', completion: 'Red.', model: 'model-b' },
    ]);
    await page.goto(place('export'));
    await page.getByTestId('export-raw').check();
    const downloads = await downloadExport(page);
    const names = downloads.map((download) => download.suggestedFilename()).sort();
    assert.deepEqual(names, ['generations.README.md', 'generations.jsonl']);
    assert.match(await page.getByTestId('export-outcome').textContent(), /generations\.README\.md/);
    const card = await readFile(await downloads.find((d) => d.suggestedFilename().endsWith('.md')).path(), 'utf8');
    assert.match(card, /path: generations\.jsonl/);

    // The label lists the columns, each as code: exactly the file's keys, in order.
    const data = downloads.find((download) => download.suggestedFilename() === 'generations.jsonl');
    const [row] = (await readFile(await data.path(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    const label = page.locator('label:has([data-testid="export-raw"])');
    assert.deepEqual(await label.locator('code').allTextContents(), Object.keys(row));
    // Its ratings and rationales are the judges': none here, so nulls, as the label says.
    assert.match(await label.textContent(), /judges/);
    assert.deepEqual(row.ratings, [null, null]);
    assert.deepEqual(errors, []);
  } finally {
    await own.close();
  }
});

// Settings → Local model as a newcomer meets it (issue #15, items 9–11):
// every click on "Load model" gets an answer at the field, a failed load
// keeps the model that was working and caches nothing that is not a model,
// GGUF errors speak plainly and name the file once, "Try it" says why
// Generate is disabled, and the generations' model id is the Hub id when the
// file or its address tells it, else the name the organizer gives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { baseUrl, modelFile, openBrowser, collectErrors, place, screenshot, downloadExport } from './browser.mjs';

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

/** Loads the default model in Settings and waits until it is ready. */
async function loadDefaultModel(page) {
  await page.getByTestId('model-origin-default').check();
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="model-status"]')?.dataset.state === 'ready', undefined, { timeout: 120_000 });
}

/** Loads from an address and waits for the answer of the failed load. */
async function failToLoad(page, address) {
  await page.getByTestId('model-address').fill(address);
  await page.getByTestId('model-load').click();
  const failure = page.getByTestId('model-load-failed');
  // The alert of the previous failure is replaced by this one's.
  await page.waitForFunction(
    (address) => document.querySelector('[data-testid="model-load-failed"]')?.dataset.file?.endsWith(address.replace(/^\.\//, '/')),
    address,
    { timeout: 60_000 },
  );
  return failure.textContent();
}

/** How often `needle` occurs in `text`. */
const occurrences = (text, needle) => text.split(needle).length - 1;

test('every click on "Load model" gets an answer at the field, and nothing loads', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('settings'));
  const answer = page.getByTestId('model-choice-error');

  // Typed text that is not an address: the browser's own check must not swallow the click.
  await page.getByTestId('model-origin-address').check();
  await page.getByTestId('model-address').fill('not a url');
  await page.getByTestId('model-load').click();
  await answer.waitFor({ timeout: 5_000 });
  assert.equal(await answer.getAttribute('role'), 'alert');
  assert.match(await answer.textContent(), /"not a url" is not an address/);

  // An empty address.
  await page.getByTestId('model-address').fill('');
  await page.getByTestId('model-origin-address').check();
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => /Type the address/.test(document.querySelector('[data-testid="model-choice-error"]')?.textContent ?? ''), undefined, { timeout: 5_000 });

  // "A file on this computer" with no file picked.
  await page.getByTestId('model-origin-file').check();
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => /Pick a \.gguf file/.test(document.querySelector('[data-testid="model-choice-error"]')?.textContent ?? ''), undefined, { timeout: 5_000 });
  assert.equal(await page.getByTestId('model-status').getAttribute('data-state'), 'none');
  assert.deepEqual(errors, []);
  await page.close();
});

test('"Try it" says why Generate is disabled, in a line and in the button\'s title', async () => {
  const page = await browser.context.newPage();
  await page.goto(place('settings'));
  const generate = page.getByTestId('try-generate');
  assert.equal(await generate.isDisabled(), true);
  const why = page.getByTestId('try-why');
  await why.waitFor({ timeout: 5_000 });
  assert.equal(await why.textContent(), 'Load a model first.');
  assert.equal(await generate.getAttribute('title'), 'Load a model first.');
  await page.close();
});

test('a failed load keeps the working model, says both, caches nothing that is not a model, and names the file once', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('settings'));
  await loadDefaultModel(page);
  assert.equal(await page.getByTestId('try-why').count(), 0, 'no reason shown once Generate can be used');

  // A web page (200, HTML), another file and a missing file (404) are not
  // models.
  await page.getByTestId('model-origin-address').check();
  const html = await failToLoad(page, './index.html');
  assert.match(html, /index\.html/);
  assert.match(html, /a web page, not a model file/);
  assert.equal(occurrences(html, 'index.html'), 1, html);
  // A file that is not a web page nor a model: its download stops at its
  // first bytes, before the cache keeps it.
  const wasm = await failToLoad(page, './prefab-app_bg.wasm');
  assert.match(wasm, /this is not a GGUF model file/);
  assert.equal(occurrences(wasm, 'prefab-app_bg.wasm'), 1, wasm);
  const missing = await failToLoad(page, './no-such-model.gguf');
  assert.match(missing, /404/);
  assert.equal(occurrences(missing, 'no-such-model.gguf'), 1, missing);
  // The status says both: the old model is still loaded and usable.
  const status = page.getByTestId('model-status');
  assert.equal(await status.getAttribute('data-state'), 'ready');
  assert.match(await status.textContent(), /Still loaded: .*Smollm2/);

  // Picked files: one that is not a model, one cut short inside its header.
  const model = Buffer.from(await (await fetch(new URL(`models/${modelFile}`, baseUrl))).arrayBuffer());
  await page.getByTestId('model-file').setInputFiles({ name: 'holiday-photo.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('JFIF not a model at all') });
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="model-load-failed"]')?.dataset.file === 'holiday-photo.gguf', undefined, { timeout: 60_000 });
  const photo = await page.getByTestId('model-load-failed').textContent();
  assert.match(photo, /this is not a GGUF model file/);
  assert.equal(occurrences(photo, 'holiday-photo.gguf'), 1, photo);
  await page.getByTestId('model-file').setInputFiles({ name: 'cut-short.gguf', mimeType: 'application/octet-stream', buffer: model.subarray(0, 65_536) });
  await page.getByTestId('model-load').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="model-load-failed"]')?.dataset.file === 'cut-short.gguf', undefined, { timeout: 60_000 });
  const cut = await page.getByTestId('model-load-failed').textContent();
  assert.match(cut, /this file is cut short/);
  assert.equal(occurrences(cut, 'cut-short.gguf'), 1, cut);
  await screenshot(page, 'settings-model-failed-load');

  // "Try it" still generates with the model that stayed.
  await page.getByTestId('try-prompt').fill('Say hello.');
  await page.getByTestId('try-generate').click();
  await page.getByTestId('try-stats').waitFor({ timeout: 120_000 });
  assert.ok((await page.getByTestId('try-output').textContent()).trim().length > 0);

  // Only the model is cached, still after a reload.
  await page.reload();
  await page.getByTestId('cache-list').waitFor();
  const cached = await page.getByTestId('cache-entry').allTextContents();
  assert.equal(cached.length, 1, cached.join('\n'));
  assert.match(cached[0], new RegExp(modelFile.replace(/\./g, '\\.')));
  assert.deepEqual(errors, []);
  await page.close();
});

test("the generations' model id: the Hub id when the file or address tells it, else the organizer's name, kept", async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('settings'));
  await loadDefaultModel(page);
  // The test model's GGUF names no Hub repo (no general.source.huggingface.repository)
  // and ./models/ is not a Hub address: the id proposed is the file's general.name.
  const id = page.getByTestId('model-id');
  assert.equal(await id.getAttribute('placeholder'), 'Smollm2 135M 8k Lc100K Mix1 Ep2');
  assert.match(await page.getByTestId('model-id-hint').textContent(), /no Hub repo/);
  await id.fill('HuggingFaceTB/SmolLM2-135M-Instruct');
  await id.press('Enter');
  await page.getByTestId('model-id-saved').waitFor({ timeout: 5_000 });

  // Kept across a reload, for this file.
  await page.reload();
  await loadDefaultModel(page);
  await page.waitForFunction(() => document.querySelector('[data-testid="model-id"]')?.value === 'HuggingFaceTB/SmolLM2-135M-Instruct', undefined, { timeout: 5_000 });

  // A pool run writes it as the generation's model.
  await page.goto(place('build'));
  await page.getByTestId('paste-prompts').fill('Say hi.');
  await page.getByTestId('add-pasted').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]').textContent.startsWith('1 prompt'));
  await page.getByTestId('pool-max-tokens').fill('4');
  await page.getByTestId('pool-samples').fill('1');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();
  await page.getByTestId('run-start').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length === 1, undefined, { timeout: 120_000 });

  await page.goto(place('export'));
  await page.getByTestId('export-raw').check();
  const downloads = await downloadExport(page);
  const data = downloads.find((download) => download.suggestedFilename().endsWith('.jsonl'));
  assert.ok(data, downloads.map((download) => download.suggestedFilename()).join(', '));
  const [row] = (await readFile(await data.path(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(row.generation_model, ['HuggingFaceTB/SmolLM2-135M-Instruct']);
  assert.deepEqual(errors, []);
  await page.close();
});

// The preference-dataset recipe in the page, with real models: the 10 demo
// prompts → the local model pooled twice → one EvolQuality round → a
// critique judge on llama.cpp's server (JSON under a schema), the local
// logit judge, and a judge whose answers a fault proxy turns to garbage →
// a DPO export whose pairs follow the judge's scores, a raw export with one
// rating, rationale and model prompt per generation, the conversational DPO
// export loaded by `datasets`, and the judges' scores as hints in Contribute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { openBrowser, collectErrors, screenshot, storedValues, outputDir, place } from './browser.mjs';

const llamaUrl = process.env.PREFAB_LLAMA_URL;
const proxyUrl = process.env.PREFAB_PROXY_URL;
const hubPython = process.env.PREFAB_HUB_PYTHON;

let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

async function addEndpoint(page, url) {
  const before = await page.getByTestId('endpoint-row').count();
  await page.getByTestId('endpoint-kind').selectOption('custom');
  await page.getByTestId('endpoint-url').fill(url);
  await page.getByTestId('endpoint-model').fill('smollm2');
  await page.getByTestId('endpoint-save').click();
  await page.waitForFunction((before) => document.querySelectorAll('[data-testid="endpoint-row"]').length === before + 1, before);
}

/** Adds a judge: `model` is an option's text (a substring), or null for the local model. */
async function addJudge(page, { model, mode, aspect, structured }) {
  const before = await page.getByTestId('judge-entry').count();
  const select = page.getByTestId('judge-model');
  const value = model ? await select.locator('option', { hasText: model }).getAttribute('value') : 'local';
  await select.selectOption(value);
  await page.getByTestId('judge-mode').selectOption(mode);
  await page.getByTestId('judge-aspect').selectOption(aspect);
  await page.getByTestId('judge-structured').selectOption(structured ?? 'off');
  await page.getByTestId('judge-add').click();
  await page.waitForFunction((before) => document.querySelectorAll('[data-testid="judge-entry"]').length === before + 1, before);
}

/** Waits until a stage's run has stopped with every item done. */
async function waitForRun(page, testid, total, timeout) {
  await page.waitForFunction(
    ({ testid, total }) => {
      const status = document.querySelector(`[data-testid="${testid}-status"]`);
      return status?.dataset.state === 'idle' && status.textContent.startsWith(`${total} of ${total} done`);
    },
    { testid, total },
    { timeout, polling: 250 },
  );
}

/** Downloads the export as it is set up and returns its file's path and name. */
async function download(page) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
  const saved = path.join(outputDir, `judge-${file.suggestedFilename()}`);
  await file.saveAs(saved);
  return { saved, name: file.suggestedFilename() };
}

const jsonLines = async (file) => (await readFile(file, 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));

test('the recipe: pool twice → EvolQuality → critique, logit and garbage judges → DPO from judge scores, raw export, datasets, hints', async () => {
  assert.ok(llamaUrl && proxyUrl, 'PREFAB_LLAMA_URL and PREFAB_PROXY_URL are set by cargo xtask test');
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const started = Date.now();
  const lap = (what) => console.log(`  ${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await page.goto(place('settings'));
  await addEndpoint(page, `${llamaUrl}/v1`);
  await addEndpoint(page, `${proxyUrl}/garbage/judge/v1`);

  // The pool: the local model, two samples of each demo prompt.
  await page.goto(place('build'));
  await page.getByTestId('use-demo').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]').textContent === '10 prompts');
  await page.getByTestId('pool-max-tokens').fill('24');
  await page.getByTestId('pool-samples').fill('2');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();
  await page.getByTestId('run-start').click();
  await waitForRun(page, 'run', 20, 600_000);
  lap('pool');

  // EvolQuality: one round by the local model; the dataset keeps the rewrites only.
  await page.getByTestId('evol-max-tokens').fill('32');
  await page.getByTestId('evol-max-tokens').dispatchEvent('change');
  await page.getByTestId('evol-rounds').fill('9');
  await page.getByTestId('evol-rounds').dispatchEvent('change');
  assert.match(await page.getByTestId('evol-settings-problem').textContent(), /Rounds must be a whole number from 1 to 5/);
  await page.getByTestId('evol-rounds').fill('1');
  await page.getByTestId('evol-rounds').dispatchEvent('change');
  await page.waitForFunction(() => !document.querySelector('[data-testid="evol-settings-problem"]'));
  await page.getByTestId('evol-keep-original').uncheck();
  await page.getByTestId('evol-start').click();
  await waitForRun(page, 'evol', 20, 600_000);
  lap('EvolQuality');
  const items = await storedValues(page, 'items');
  const generations = items.filter((item) => item.status === 'done').map((item) => item.generation);
  const originals = generations.filter((g) => !g.evolved_from);
  const rewrites = generations.filter((g) => g.evolved_from);
  assert.equal(originals.length, 20);
  assert.equal(rewrites.length, 20);
  const mutations = ['helpfulness', 'relevance', 'deepening', 'creativity', 'details'];
  for (const rewrite of rewrites) {
    const parent = originals.find((g) => g.id === rewrite.evolved_from.generation_id);
    assert.ok(parent, 'a rewrite names its original');
    assert.ok(mutations.includes(rewrite.evolved_from.mutation), rewrite.evolved_from.mutation);
    // What the model saw: the rewriting instructions with the original in them, in SmolLM2's chat template.
    assert.ok(rewrite.rendered_prompt.includes('<|im_start|>user'), rewrite.rendered_prompt);
    assert.ok(rewrite.rendered_prompt.includes(`#Given Response#:\n${parent.text}`), rewrite.rendered_prompt);
  }
  // A pool generation's prompt is the chat template applied, not the prompt as typed.
  assert.ok(originals.every((g) => g.rendered_prompt.includes('<|im_start|>assistant')));

  // Three judges: a critique on llama.cpp's server with JSON under a schema,
  // the local logit judge, and a critique whose answers become garbage.
  await addJudge(page, { model: `smollm2 @ ${llamaUrl}/v1`, mode: 'critique', aspect: 'overall-rating', structured: 'json_object' });
  await addJudge(page, { model: null, mode: 'logit', aspect: 'helpfulness' });
  await addJudge(page, { model: '/garbage/judge/', mode: 'critique', aspect: 'honesty' });
  await page.getByTestId('judge-start').click();
  // The 20 rewrites are judged (the originals are not in the dataset): 10
  // critiques per critique judge, one logit judgment per rewrite.
  await waitForRun(page, 'judge', 10 + 20 + 10, 900_000);
  lap('judges');
  await screenshot(page, 'judges');

  const judged = (await storedValues(page, 'items')).filter((item) => item.status === 'judged');
  assert.equal(judged.length, 40, 'every judge item finished, the garbage judge\'s included');
  const all = judged.flatMap((item) => item.judgments);
  const byMode = (mode, aspect) => all.filter((j) => j.judgment.mode === mode && j.judgment.aspect === aspect);
  const critiques = byMode('critique', 'overall-rating');
  const logits = byMode('logit', 'helpfulness');
  const garbage = byMode('critique', 'honesty');
  const rewritten = new Set(rewrites.map((g) => g.id));
  for (const set of [critiques, logits, garbage]) {
    assert.equal(set.length, 20);
    assert.ok(set.every(({ generation_id }) => rewritten.has(generation_id)), 'only what the dataset shows is judged');
  }
  // The schema holds the server to a rating of 1–5 and a rationale. A 135M
  // judge still writes the odd broken string; what the parser cannot read is
  // unparsed, with its reason and raw output, and nothing else is lost.
  const parsedCritiques = critiques.filter(({ judgment }) => judgment.status.kind === 'parsed');
  assert.ok(parsedCritiques.length >= 15, `most critiques parse: ${parsedCritiques.length} of 20`);
  for (const { judgment } of critiques) {
    assert.equal(judgment.prompt_version, 'prefab-ultrafeedback-1');
    assert.equal(judgment.judge_id, 'smollm2');
    assert.ok(judgment.raw_output.length > 0);
    if (judgment.status.kind === 'parsed') {
      assert.ok(Number.isInteger(judgment.rating) && judgment.rating >= 1 && judgment.rating <= 5, JSON.stringify(judgment));
      assert.equal(typeof judgment.rationale, 'string');
    } else {
      assert.equal(judgment.rating, null);
      assert.ok(judgment.status.reason.length > 0);
    }
  }
  for (const { judgment } of logits) {
    assert.equal(judgment.status.kind, 'parsed');
    assert.ok(judgment.rating >= 1 && judgment.rating <= 5 && !Number.isInteger(judgment.rating), `an expected value: ${judgment.rating}`);
    assert.ok(judgment.confidence > 0.2 && judgment.confidence <= 1, `confidence ${judgment.confidence}`);
    assert.match(judgment.raw_output, /^P\(1\.\.5\) = /);
  }
  // Garbage: unparsed, its raw answer kept and shown; the run went on.
  for (const { judgment } of garbage) {
    assert.equal(judgment.status.kind, 'failed');
    assert.equal(judgment.rating, null);
    assert.equal(judgment.raw_output, 'Rating: high');
  }
  // The garbage judge's 10 rows, and any critique row with an unparsed text.
  assert.ok((await page.locator('[data-testid="judge-row"][data-state="unparsed"]').count()) >= 10);
  const unparsed = page.locator('[data-testid="judgment"][data-state="unparsed"]').first();
  assert.match(await unparsed.textContent(), /unparsed: .*Rating: high/);

  // DPO from the llama.cpp judge's scores: chosen outscored rejected.
  const score = new Map(parsedCritiques.map(({ generation_id, judgment }) => [generation_id, judgment.rating]));
  const textOf = new Map(generations.map((g) => [g.text, g.id]));
  await page.goto(place('export'));
  await page.getByTestId('export-dpo').check();
  const label = `smollm2 · critique · overall-rating`;
  await page.getByTestId('export-source').selectOption(`judge:${label}`);
  const dpo = await download(page);
  assert.equal(dpo.name, 'dpo.jsonl');
  const pairs = await jsonLines(dpo.saved);
  assert.ok(pairs.length >= 1, `pairs from the judge's scores: ${pairs.length}`);
  for (const pair of pairs) {
    const chosen = score.get(textOf.get(pair.chosen));
    const rejected = score.get(textOf.get(pair.rejected));
    assert.equal(pair.score_chosen, chosen);
    assert.equal(pair.score_rejected, rejected);
    assert.ok(chosen > rejected, `${chosen} > ${rejected}`);
  }
  // A margin of 5 leaves no pair on a 1–5 scale.
  await page.getByTestId('export-margin').fill('5');
  await page.getByTestId('export-download').click();
  await page.waitForFunction(() => /Nothing to export/.test(document.querySelector('[data-testid="export-outcome"]')?.textContent ?? ''));
  await page.getByTestId('export-margin').fill('0');

  // The conversational DPO export as Parquet, and the raw export.
  await page.getByTestId('export-style').selectOption('conversational');
  await page.getByTestId('export-parquet').check();
  const conversational = await download(page);
  assert.equal(conversational.name, 'dpo.parquet');
  await page.getByTestId('export-parquet').uncheck();
  await page.getByTestId('export-style').selectOption('standard');
  await page.getByTestId('export-raw').check();
  const raw = await download(page);
  const rows = await jsonLines(raw.saved);
  assert.equal(rows.length, 10);
  for (const row of rows) {
    const n = row.generations.length;
    assert.equal(n, 2, 'the two rewrites, the originals left out');
    for (const column of ['generation_model', 'generation_prompt', 'raw_generation_responses', 'ratings', 'rationales']) {
      assert.equal(row[column].length, n, column);
    }
    row.generations.forEach((text, i) => {
      const generation = generations.find((g) => g.text === text && g.raw_text === row.raw_generation_responses[i]);
      assert.ok(generation?.evolved_from, `a stored rewrite: ${text}`);
      assert.equal(row.generation_prompt[i], generation.rendered_prompt);
      assert.equal(row.ratings[i], score.get(generation.id) ?? null);
      if (score.has(generation.id)) assert.equal(typeof row.rationales[i], 'string');
    });
  }
  await screenshot(page, 'export-judges');
  assert.match(await page.getByTestId('judge-agreement').textContent(), /logit · helpfulness vs smollm2 · critique · overall-rating: α = -?\d\.\d\d over 20 completions/);

  // `datasets` reads the DPO exports as TRL will.
  const { stdout } = await promisify(execFile)(hubPython, [path.resolve('../python/check_trl.py'), dpo.saved, conversational.saved], {
    env: { ...process.env, HF_HUB_OFFLINE: '1', HF_DATASETS_DISABLE_PROGRESS_BARS: '1', HF_DATASETS_CACHE: path.join(outputDir, 'hf-datasets-cache'), HF_HOME: path.join(outputDir, 'hf-home') },
    timeout: 120_000,
  });
  const checked = stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(checked.map((c) => [c.kind, c.style, c.rows]), [['dpo', 'standard', pairs.length], ['dpo', 'conversational', pairs.length]]);

  lap('exports checked');
  // Contribute: the judges' scores are hints only when asked for.
  await page.goto(place('contribute'));
  await page.getByTestId('task').waitFor();
  assert.equal(await page.getByTestId('show-judges').isChecked(), false);
  assert.equal(await page.getByTestId('judge-hint').count(), 0);
  await page.getByTestId('show-judges').check();
  await page.getByTestId('judge-hint').first().waitFor();
  assert.match(await page.getByTestId('judge-hint').first().textContent(), /^Judges' score: \d\.\d of 5 \(/);
  assert.deepEqual(errors, []);
  await page.close();
});

// Retry in the Improve (EvolQuality) and Judges tables, as in the pool's:
// a failed item goes back in the plan and the run starts again. The
// failure is real: the fault proxy answers a model's first request with
// 401 (which no client retries by itself), then forwards to llama.cpp's
// real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser, collectErrors, storedValues, importCompletions, place } from './browser.mjs';

const proxyUrl = process.env.PREFAB_PROXY_URL;

async function addEndpoint(page, url) {
  await page.goto(place('settings'));
  await page.getByTestId('endpoint-kind').selectOption('custom');
  await page.getByTestId('endpoint-url').fill(url);
  await page.getByTestId('endpoint-model').fill('smollm2');
  await page.getByTestId('endpoint-save').click();
  await page.getByTestId('endpoint-row').first().waitFor();
}

/** The value of `select`'s option whose text has `text`. */
const optionFor = (page, testid, text) => page.getByTestId(testid).locator('option', { hasText: text }).getAttribute('value');

/** Waits until a stage's run is idle with `expected` as its status. */
const runEnds = (page, testid, expected) =>
  page.waitForFunction(
    ({ testid, expected }) => {
      const status = document.querySelector(`[data-testid="${testid}-status"]`);
      return status?.dataset.state === 'idle' && status.textContent === expected;
    },
    { testid, expected },
    { timeout: 300_000, polling: 100 },
  );

test('a failed rewrite and a failed judgment are retried from their tables, and the run takes them', async (t) => {
  assert.ok(proxyUrl, 'PREFAB_PROXY_URL is set by `cargo xtask test`, which starts the proxy');
  const browser = await openBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await importCompletions(page, 'one.jsonl', [
    { prompt: 'Name a river.', completion: 'The Nile.', model: 'm1' },
    { prompt: 'Name a river.', completion: 'The Danube.', model: 'm2' },
  ]);
  await addEndpoint(page, `${proxyUrl}/unauthorized-once/retry-evol/v1`);
  await addEndpoint(page, `${proxyUrl}/unauthorized-once/retry-judge/v1`);
  await page.goto(place('build'));

  // Improve: the first rewrite meets the 401 and fails; Retry redoes it.
  await page.getByTestId('evol-model').selectOption(await optionFor(page, 'evol-model', 'retry-evol'));
  await page.getByTestId('evol-max-tokens').fill('16');
  await page.getByTestId('evol-max-tokens').dispatchEvent('change');
  await page.getByTestId('evol-start').click();
  await runEnds(page, 'evol', '2 of 2 done');
  assert.equal(await page.locator('[data-testid="evol-row"][data-state="failed"]').count(), 1);
  assert.match(await page.locator('[data-testid="evol-row"][data-state="failed"]').textContent(), /401|credentials/i);
  await page.locator('[data-testid="evol-row"][data-state="failed"]').getByRole('button', { name: 'Retry' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="evol-row"][data-state="done"]').length === 2, undefined, { timeout: 300_000 });
  await runEnds(page, 'evol', '2 of 2 done');

  // Judges: a critique of the prompt's completions fails the same way; Retry redoes it.
  const judgeModel = await optionFor(page, 'judge-model', 'retry-judge');
  await page.getByTestId('judge-model').selectOption(judgeModel);
  await page.getByTestId('judge-mode').selectOption('critique');
  await page.getByTestId('judge-add').click();
  await page.getByTestId('judge-entry').waitFor();
  await page.getByTestId('judge-start').click();
  await runEnds(page, 'judge', '1 of 1 done');
  assert.equal(await page.locator('[data-testid="judge-row"][data-state="failed"]').count(), 1);
  await page.getByTestId('judge-retry').click();
  await page.waitForFunction(() => {
    const row = document.querySelector('[data-testid="judge-row"]');
    return row && ['judged', 'unparsed'].includes(row.dataset.state);
  }, undefined, { timeout: 300_000 });
  await runEnds(page, 'judge', '1 of 1 done');
  const judged = (await storedValues(page, 'items')).filter((item) => item.status === 'judged');
  assert.equal(judged.length, 1);
  assert.equal(judged[0].judgments.length, 4, 'the two completions and their two rewrites are judged');
  // The browser logs each 401 it was sent; nothing else went wrong.
  assert.deepEqual(errors.filter((error) => !/status of 401/.test(error)), []);
  assert.equal(errors.length, 2, 'one 401 for the rewrite, one for the judge');
});

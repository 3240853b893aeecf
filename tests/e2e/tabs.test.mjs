// Two tabs of the page on one project: ratings given in either are kept,
// and each tab sees the other's, so neither asks for an answer already
// given; a stage of the pool runs in one tab at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser, collectErrors, storedValues, importCompletions, place } from './browser.mjs';

const progressIs = (page, text) =>
  page.waitForFunction((text) => document.querySelector('[data-testid="rating-progress"]')?.textContent === text, text);

const runStatusStartsWith = (page, text, timeout = 180_000) =>
  page.waitForFunction((text) => document.querySelector('[data-testid="run-status"]')?.textContent.startsWith(text), text, { timeout });

test('two tabs rating at once keep every rating, see each other\'s, and run the pool one at a time', async (t) => {
  const browser = await openBrowser();
  t.after(() => browser.close());
  // Counts the page's requests to keep its storage; the browser here does not grant it.
  await browser.context.addInitScript(() => {
    const persist = navigator.storage.persist.bind(navigator.storage);
    window.__keepAsked = 0;
    navigator.storage.persist = () => {
      window.__keepAsked += 1;
      return persist();
    };
  });
  const [first, second] = [await browser.context.newPage(), await browser.context.newPage()];
  const errors = [...collectErrors(first), ...collectErrors(second)];
  const prompts = ['Name a fruit.', 'Name a colour.', 'Name a tree.', 'Name a river.'];
  const rows = prompts.flatMap((prompt) => ['m1', 'm2'].map((model) => ({ prompt, completion: `${model} says: ${prompt}`, model })));
  await importCompletions(first, 'tabs.jsonl', rows);
  await first.goto(place('contribute'));
  await first.getByTestId('rating-mode').selectOption('thumbs');
  await progressIs(first, '0 of 8 rated');
  await second.goto(place('contribute'));
  await progressIs(second, '0 of 8 rated');

  // Turn by turn: each rating shows up in the other tab, which moves on to an item not yet rated.
  const shown = (page) => page.getByTestId('completion').locator('p').textContent();
  const rated = [];
  for (let turn = 0; turn < 6; turn++) {
    const [page, other] = turn % 2 === 0 ? [first, second] : [second, first];
    rated.push(await shown(page));
    await page.keyboard.press(turn % 3 === 0 ? 'n' : 'y');
    await page.keyboard.press('Enter');
    await progressIs(page, `${turn + 1} of 8 rated`);
    await progressIs(other, `${turn + 1} of 8 rated`);
    assert.ok(!rated.includes(await shown(other)), 'the other tab shows an item nobody rated');
  }
  const stored = await storedValues(first, 'ratings');
  assert.equal(stored.length, 6);
  // Each tab asked once to keep the storage, though it was not granted: never at every rating.
  for (const page of [first, second]) assert.equal(await page.evaluate(() => window.__keepAsked), 1);
  assert.equal(new Set(stored.map((rating) => rating.value.generation_id)).size, 6, 'six different items, none rated twice');

  // The pool runs in the first tab; the second is told, not run twice.
  await first.goto(place('build'));
  await first.getByTestId('pool-max-tokens').fill('24');
  await first.getByTestId('pool-samples').fill('1');
  await first.getByTestId('pool-add').click();
  await first.getByTestId('pool-entry').waitFor();
  await first.getByTestId('run-start').click();
  await first.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.dataset.state === 'running');
  await second.goto(place('build'));
  await second.reload();
  await second.getByTestId('pool-entry').waitFor();
  await second.getByTestId('run-start').click();
  const problem = second.getByTestId('run-problem');
  await problem.waitFor();
  assert.match(await problem.textContent(), /The model pool is already running in another tab of this page/);
  assert.notEqual(await second.getByTestId('run-status').getAttribute('data-state'), 'running');

  // Once it is done there, the second tab may run it: nothing is left to do.
  await runStatusStartsWith(first, '4 of 4 done');
  await second.reload();
  await second.getByTestId('run-start').click();
  await runStatusStartsWith(second, '4 of 4 done', 30_000);
  assert.equal(await second.getByTestId('run-problem').count(), 0);
  const generated = (await storedValues(first, 'items')).filter((item) => item.status === 'done' && !['m1', 'm2'].includes(item.generation.model_id));
  assert.equal(generated.length, 4, 'each item generated once');
  assert.deepEqual(errors, []);
});

// What a newcomer trips over (issue #15), each as a person meets it: by
// keyboard and by pointer, on a desktop and on a phone. Every test here
// failed on the page before the fix it checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser, collectErrors, storedValues, importCompletions, place } from './browser.mjs';

/** A fresh browser (empty IndexedDB) and a page in it, closed after the test. */
async function fresh(t, viewport = { width: 1280, height: 800 }) {
  const browser = await openBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  return { page, errors: collectErrors(page) };
}

/** `count` prompts, each with completions by two models. */
const answered = (count) =>
  Array.from({ length: count }, (_, n) => `Question ${n + 1}: name a colour.`).flatMap((prompt) =>
    ['m1', 'm2'].map((model) => ({ prompt, completion: `${model} says blue to "${prompt}"`, model })),
  );

const text = (page, testid) => page.getByTestId(testid).textContent();
const waitForText = (page, testid, expected, timeout = 10_000) =>
  page.waitForFunction(
    ([testid, expected]) => document.querySelector(`[data-testid="${testid}"]`)?.textContent === expected,
    [testid, expected],
    { timeout },
  );
const progressIs = (page, expected) => waitForText(page, 'rating-progress', expected);
const focusedTestid = (page) => page.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName);
const pressedCount = (page) => page.locator('[aria-pressed="true"]').count();

async function setMode(page, mode) {
  await page.goto(place('contribute'));
  await page.getByTestId('rating-mode').selectOption(mode);
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]')?.textContent.startsWith('0 of'));
}

async function pastePrompts(page, lines) {
  await page.getByTestId('paste-prompts').fill(lines.join('\n'));
  await page.getByTestId('add-pasted').click();
}

test('1. one keyboard model: Enter is the focused button, a picked answer submits, a link leads away', async (t) => {
  const { page, errors } = await fresh(t);
  await importCompletions(page, 'colours.jsonl', answered(4));
  await setMode(page, 'thumbs');
  await progressIs(page, '0 of 8 rated');

  // Focus on Skip: `y` then Enter skips, every time (the item changes, the focus stays).
  await page.getByTestId('skip').focus();
  for (const skipped of [1, 2]) {
    await page.keyboard.press('y');
    await page.keyboard.press('Enter');
    await waitForText(page, 'skipped', `${skipped} skipped: they come back when the rest are rated.`, 5_000);
  }
  assert.equal(await text(page, 'rating-progress'), '0 of 8 rated');

  // Focus on Undo: `y` then Enter takes the pick back.
  await page.getByTestId('undo').focus();
  await page.keyboard.press('y');
  assert.equal(await pressedCount(page), 1);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[aria-pressed="true"]').length === 0, undefined, { timeout: 5_000 });
  assert.equal(await text(page, 'rating-progress'), '0 of 8 rated');

  // A Submit by click keeps the focus on Submit: the next answer goes by keys.
  await page.keyboard.press('y');
  await page.getByTestId('submit').click();
  await progressIs(page, '1 of 8 rated');
  assert.equal(await focusedTestid(page), 'submit');
  await page.keyboard.press('n');
  await page.keyboard.press('Enter');
  await progressIs(page, '2 of 8 rated');

  // Focus on an answer button: a key picks, Enter submits what is picked.
  await page.getByRole('button', { name: /Good/ }).focus();
  await page.keyboard.press('n');
  await page.keyboard.press('Enter');
  await progressIs(page, '3 of 8 rated');
  const votes = (await storedValues(page, 'ratings')).map((rating) => rating.value.up).sort();
  assert.deepEqual(votes, [false, false, true]);

  // A vs B: tabbing out of "Your name" reaches the answers; `1` then Enter submits.
  await setMode(page, 'pairwise');
  await progressIs(page, '0 of 4 rated');
  await page.getByTestId('annotator').focus();
  for (let tab = 0; tab < 4 && !/A is better/.test(await page.evaluate(() => document.activeElement.textContent)); tab++) await page.keyboard.press('Tab');
  assert.match(await page.evaluate(() => document.activeElement.textContent), /A is better/);
  await page.keyboard.press('1');
  await page.keyboard.press('Enter');
  await progressIs(page, '1 of 4 rated');

  // Enter on a focused link follows it, and rates nothing.
  await page.keyboard.press('2');
  await page.getByTestId('nav-build').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('prompts-panel').waitFor({ timeout: 5_000 });
  assert.equal((await storedValues(page, 'ratings')).length, 4);
  assert.deepEqual(errors, []);
});

test('2. renaming carries the ratings made so far; a blank name is refused at the field', async (t) => {
  const { page, errors } = await fresh(t);
  await importCompletions(page, 'colours.jsonl', answered(2));
  await setMode(page, 'thumbs');
  for (const rated of [1, 2]) {
    await page.keyboard.press('y');
    await page.keyboard.press('Enter');
    await progressIs(page, `${rated} of 4 rated`);
  }
  const before = await storedValues(page, 'ratings');
  assert.equal(before.length, 2);
  assert.match(before[0].annotator, /^anonymous-/);

  await page.getByTestId('annotator').fill('Ana');
  await page.getByTestId('annotator').press('Tab');
  await page.waitForFunction(async () => document.querySelector('[data-testid="annotator"]').value === 'Ana');
  // Progress carries on where it was, and the ratings are under the new name.
  await progressIs(page, '2 of 4 rated');
  const deadline = Date.now() + 10_000;
  let after = [];
  while (Date.now() < deadline) {
    after = await storedValues(page, 'ratings');
    if (after.every((rating) => rating.annotator === 'Ana')) break;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(after.map((rating) => rating.annotator), ['Ana', 'Ana']);
  assert.deepEqual(after.map((rating) => rating.value.generation_id).sort(), before.map((rating) => rating.value.generation_id).sort());

  // A blank name is an error at the field; the name in force stays.
  await page.getByTestId('annotator').fill('   ');
  await page.getByTestId('annotator').press('Tab');
  await page.waitForFunction(() => document.querySelector('[data-testid="annotator-problem"]')?.textContent.length > 0, undefined, { timeout: 5_000 });
  assert.equal(await page.getByTestId('annotator').getAttribute('aria-invalid'), 'true');
  await page.reload();
  await progressIs(page, '2 of 4 rated');
  assert.equal(await page.getByTestId('annotator').inputValue(), 'Ana');
  assert.deepEqual(errors, []);
});

test('3. every emoji label has its words: the question menu and the Export chart', async (t) => {
  const { page, errors } = await fresh(t);
  await importCompletions(page, 'colours.jsonl', answered(1));
  await setMode(page, 'thumbs');
  const thumbs = await page.getByTestId('rating-mode').locator('option[value="thumbs"]').textContent();
  assert.match(thumbs, /Good/);
  assert.match(thumbs, /Bad/);
  await page.keyboard.press('y');
  await page.keyboard.press('Enter');
  await progressIs(page, '1 of 2 rated');
  await page.goto(place('export'));
  const labels = await page.getByTestId('answer-chart').locator('.bar-label').allTextContents();
  assert.deepEqual(labels, ['👍 Good']);
  assert.deepEqual(errors, []);
});

test('4. clearing the prompts asks, and is undone even after a reload; demo prompts are added, not swapped in', async (t) => {
  const { page, errors } = await fresh(t);
  await importCompletions(page, 'colours.jsonl', answered(2));
  await setMode(page, 'thumbs');
  await page.keyboard.press('y');
  await page.keyboard.press('Enter');
  await progressIs(page, '1 of 4 rated');

  await page.goto(place('build'));
  await waitForText(page, 'prompt-count', '2 prompts');
  await page.getByTestId('use-demo').click();
  await waitForText(page, 'prompt-count', '12 prompts');

  // Clear asks first; keeping them changes nothing.
  await page.getByTestId('clear-prompts').click();
  await page.getByTestId('clear-confirm').waitFor({ timeout: 5_000 });
  assert.equal(await text(page, 'prompt-count'), '12 prompts');
  await page.getByTestId('clear-confirm-no').click();
  assert.equal(await page.getByTestId('clear-confirm').count(), 0);
  assert.equal(await text(page, 'prompt-count'), '12 prompts');

  // Removed, the completions are out of view; after a reload, Undo brings them back, ratings and all.
  await page.getByTestId('clear-prompts').click();
  await page.getByTestId('clear-confirm-yes').click();
  await waitForText(page, 'prompt-count', '0 prompts');
  await page.reload();
  await page.getByTestId('clear-undo').click();
  await waitForText(page, 'prompt-count', '12 prompts');
  assert.equal(await page.getByTestId('clear-undo').count(), 0);
  await page.goto(place('contribute'));
  await progressIs(page, '1 of 4 rated');
  assert.deepEqual(errors, []);
});

test('5. a reload mid-run shows the stored counts, puts the cut-off item back, and resumes', async (t) => {
  const { page, errors } = await fresh(t);
  await page.goto(place('build'));
  await page.getByTestId('use-demo').click();
  await waitForText(page, 'prompt-count', '10 prompts');
  await page.getByTestId('pool-max-tokens').fill('24');
  await page.getByTestId('pool-samples').fill('2');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();
  await page.getByTestId('run-start').click();
  const doneIn = (items) => items.filter((item) => item.status === 'done').length;
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-row"][data-state="done"]').length >= 3, undefined, { timeout: 300_000, polling: 50 });
  await page.reload();

  await page.getByTestId('run-status').waitFor();
  const items = await storedValues(page, 'items');
  const done = doneIn(items);
  assert.ok(done >= 3 && done < 20, `${done} done when reloaded`);
  assert.equal(items.filter((item) => item.status === 'running').length, 0, 'no item stays running');
  await waitForText(page, 'run-status', `${done} of 20 done`);
  assert.equal(await page.locator('[data-testid="result-row"][data-state="running"]').count(), 0);
  assert.equal(await page.locator('[data-testid="result-row"][data-state="done"]').count(), done);
  assert.equal(await text(page, 'run-start'), 'Resume');
  const kept = items.filter((item) => item.status === 'done').map((item) => item.generation.id).sort();

  await page.getByTestId('run-start').click();
  await waitForText(page, 'run-status', '20 of 20 done', 600_000).catch(async () => {
    throw new Error(`the run did not finish: ${await text(page, 'run-status')}`);
  });
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]').dataset.state === 'idle');
  const finished = await storedValues(page, 'items');
  assert.equal(doneIn(finished), 20);
  const ids = new Set(finished.filter((item) => item.status === 'done').map((item) => item.generation.id));
  for (const id of kept) assert.ok(ids.has(id), 'what was done before the reload is kept');
  assert.equal(await text(page, 'run-start'), 'Run');
  assert.deepEqual(errors, []);
});

test('6. long unbroken text wraps: the results table on a desktop, the guidelines on a phone', async (t) => {
  const { page, errors } = await fresh(t);
  await page.goto(place('build'));
  const url = `https://example.com/${'a'.repeat(2400)}`;
  await pastePrompts(page, [`Summarise ${url}`]);
  await waitForText(page, 'prompt-count', '1 prompt');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('result-row').waitFor();
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    window: window.innerWidth,
    table: document.querySelector('[data-testid="results"]').scrollWidth,
    room: document.querySelector('[data-testid="results"]').parentElement.clientWidth,
  }));
  assert.ok(widths.table <= widths.room, `the table is ${widths.table} px wide in ${widths.room} px`);
  assert.ok(widths.page <= widths.window, `the page is ${widths.page} px wide in ${widths.window} px`);

  await page.getByTestId('guidelines-text').fill(`Read ${url} first.\n\n- ${'x'.repeat(300)}`);
  await page.getByTestId('guidelines-save').click();
  await waitForText(page, 'guidelines-save', 'Saved');
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(place('contribute'));
  await page.getByTestId('guidelines').waitFor();
  const phone = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
  assert.ok(phone.page <= phone.window, `the phone page is ${phone.page} px wide in ${phone.window} px`);
  assert.deepEqual(errors, []);
});

test('7. the prompt list pages through every prompt, with a count and a search', async (t) => {
  const { page, errors } = await fresh(t);
  await page.goto(place('build'));
  await pastePrompts(page, Array.from({ length: 45 }, (_, n) => `Prompt number ${n + 1}.`));
  await waitForText(page, 'prompt-count', '45 prompts');
  const listed = () => page.getByTestId('prompt-list').locator('li').allTextContents();
  assert.equal((await listed()).length, 20);
  assert.equal(await text(page, 'prompt-pages-range'), 'Prompts 1–20 of 45');
  await page.getByTestId('prompt-pages-next').click();
  await page.getByTestId('prompt-pages-next').click();
  await waitForText(page, 'prompt-pages-range', 'Prompts 41–45 of 45');
  assert.deepEqual(await listed(), ['Prompt number 41.', 'Prompt number 42.', 'Prompt number 43.', 'Prompt number 44.', 'Prompt number 45.']);
  await page.getByTestId('prompt-search').fill('number 4');
  await waitForText(page, 'prompt-count', '7 of 45 prompts match');
  assert.deepEqual(await listed(), ['Prompt number 4.', ...[40, 41, 42, 43, 44, 45].map((n) => `Prompt number ${n}.`)]);
  assert.deepEqual(errors, []);
});

test('8. the pool form checks each field where it is typed; 100,000 planned items draw one page', async (t) => {
  const { page, errors } = await fresh(t);
  await page.goto(place('build'));
  const refused = async (testid, typed, expected) => {
    await page.getByTestId(testid).fill(typed);
    await waitForText(page, `${testid}-problem`, expected, 5_000);
    assert.equal(await page.getByTestId(testid).getAttribute('aria-invalid'), 'true');
    await page.getByTestId('pool-add').click();
    assert.equal(await focusedTestid(page), testid, 'Add takes the focus to the field at fault');
    assert.equal(await page.getByTestId('pool-entry').count(), 0, `${typed} is not added`);
  };
  await refused('pool-samples', '1000000', 'Generations per prompt is “1000000”: type a whole number from 1 to 100.');
  await refused('pool-samples', '2.5', 'Generations per prompt is “2.5”: type a whole number from 1 to 100.');
  await page.getByTestId('pool-samples').fill('100');
  await refused('pool-max-tokens', '1e12', 'Max tokens is “1e12”: type a whole number from 1 to 32768.');
  await page.getByTestId('pool-max-tokens').fill('16');
  await refused('pool-temperature', 'warm', 'Temperature is “warm”: type a number from 0 to 2.');
  await page.getByTestId('pool-temperature').fill('0.7');
  assert.equal(await text(page, 'pool-temperature-problem'), '');

  await pastePrompts(page, Array.from({ length: 1000 }, (_, n) => `Prompt ${n + 1}: say a number.`));
  await waitForText(page, 'prompt-count', '1,000 prompts');
  await page.getByTestId('pool-add').click();
  await page.getByTestId('pool-entry').waitFor();
  await waitForText(page, 'result-pages-range', 'Items 1–50 of 100,000');
  assert.equal(await page.getByTestId('result-row').count(), 50);
  await waitForText(page, 'run-status', '0 of 100000 done');
  await page.getByTestId('result-pages-next').click();
  await waitForText(page, 'result-pages-range', 'Items 51–100 of 100,000');
  assert.match(await page.getByTestId('result-row').first().locator('td').first().textContent(), /^Prompt 1: /);
  assert.match(await page.getByTestId('result-row').first().locator('td').nth(1).textContent(), /#51$/);
  assert.deepEqual(errors, []);
});

test('11. a button that cannot act looks it and says why', async (t) => {
  const { page, errors } = await fresh(t);
  await page.goto(place('build'));
  await page.getByTestId('run-start').waitFor();
  const look = (testid) =>
    page.getByTestId(testid).evaluate((button) => ({ disabled: button.disabled || button.getAttribute('aria-disabled') === 'true', opacity: Number(getComputedStyle(button).opacity), title: button.title }));
  const run = await look('run-start');
  assert.ok(run.disabled && run.opacity < 1, JSON.stringify(run));
  assert.equal(run.title, 'Add prompts first.');
  assert.equal(await text(page, 'run-why'), 'Add prompts first.');
  const pause = await look('run-pause');
  assert.ok(pause.disabled && pause.opacity < 1 && pause.title.length > 0, JSON.stringify(pause));

  await importCompletions(page, 'colours.jsonl', answered(1));
  await waitForText(page, 'run-why', 'Add a model to the pool first.');
  await setMode(page, 'thumbs');
  const submit = await look('submit');
  assert.ok(submit.disabled && submit.opacity < 1, JSON.stringify(submit));
  assert.equal(submit.title, 'Choose an answer first');
  // Playwright holds back from an aria-disabled button; a person's click lands.
  await page.getByTestId('submit').click({ force: true });
  await waitForText(page, 'rating-hint', 'choose an answer first');
  assert.deepEqual(errors, []);
});

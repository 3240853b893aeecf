// Rating completions brought in a file (no model needed): A vs B with tie
// and both bad, a ranking with undo, 1–5, and DPO exports that follow what
// was rated; HTML in completions stays text; a file can be dropped; and
// 1,000 ratings made by keyboard through the page, with reloads between
// batches and a changed answer, are all kept exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { openBrowser, collectErrors, countDialogs, storedValues, importCompletions, place } from './browser.mjs';

const jsonl = (rows) => Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'));

async function setMode(page, mode) {
  await page.goto(place('contribute'));
  await page.getByTestId('rating-mode').selectOption(mode);
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]')?.textContent.startsWith('0 of'));
}

/** Waits until the progress line says `text`. */
const progressIs = (page, text) =>
  page.waitForFunction((text) => document.querySelector('[data-testid="rating-progress"]')?.textContent === text, text);

async function download(page, testid) {
  await page.goto(place('export'));
  await page.getByTestId('export-dpo').check();
  if (testid) await page.getByTestId('export-source').selectOption(testid);
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
  return (await readFile(await file.path(), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

test('A vs B, ranking and 1–5 on imported completions; DPO follows the answers', async (t) => {
  const browser = await openBrowser();
  // Closed even when an assertion fails: an open browser would keep node running.
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  // Two prompts, three models each; a completion's text names its model.
  const prompts = ['Name a fruit.', 'Name a colour.'];
  const rows = prompts.flatMap((prompt) => ['m1', 'm2', 'm3'].map((model) => ({ prompt, completion: `${model} answers: ${prompt}`, model })));
  await importCompletions(page, 'three-models.jsonl', rows);
  const modelOf = (text) => text.slice(0, 2);

  // A vs B: every pair of a prompt's completions, 3 per prompt. The lower
  // model number wins, but m2 vs m3 is a tie for one prompt and both bad
  // for the other: m1 wins all its pairs either way.
  await setMode(page, 'pairwise');
  await progressIs(page, '0 of 6 rated');
  const verdicts = new Map();
  let tieGiven = false;
  for (let i = 0; i < 6; i++) {
    const a = await page.getByTestId('completion-a').locator('p').textContent();
    const b = await page.getByTestId('completion-b').locator('p').textContent();
    const withoutM1 = modelOf(a) !== 'm1' && modelOf(b) !== 'm1';
    const key = withoutM1 ? (tieGiven ? 'x' : 't') : modelOf(a) < modelOf(b) ? '1' : 'b';
    tieGiven ||= withoutM1;
    verdicts.set(`${a}|${b}`, { 1: 'a', b: 'b', t: 'tie', x: 'both_bad' }[key]);
    await page.keyboard.press(key);
    assert.equal(await page.locator('[aria-pressed="true"]').count(), 1, 'the chosen answer is marked');
    await page.keyboard.press('Enter');
    await progressIs(page, `${i + 1} of 6 rated`);
  }
  await page.getByTestId('rating-done').waitFor();
  const pairwise = (await storedValues(page, 'ratings')).filter((r) => r.value.kind === 'pairwise');
  assert.equal(pairwise.length, 6);
  const texts = new Map();
  const generations = new Map();
  for (const item of await storedValues(page, 'items')) {
    texts.set(item.generation.id, item.generation.text);
    generations.set(item.generation.id, item.generation.model_id);
  }
  for (const rating of pairwise) {
    const key = `${texts.get(rating.value.a)}|${texts.get(rating.value.b)}`;
    assert.equal(rating.value.verdict, verdicts.get(key), `verdict for ${key}`);
  }

  // Ranking: all three at once, shown in a seeded order. Rank m3 > m2 > m1,
  // with one wrong pick undone on the way.
  await setMode(page, 'ranking');
  await progressIs(page, '0 of 2 rated');
  for (let i = 0; i < 2; i++) {
    const cards = page.getByTestId('ranked-completion');
    const shown = (await cards.locator('p').allTextContents()).map(modelOf);
    const position = (model) => String(shown.indexOf(model) + 1);
    await page.keyboard.press(position('m1'));
    assert.equal(await cards.nth(shown.indexOf('m1')).getAttribute('data-rank'), '1');
    await page.keyboard.press('z');
    assert.equal(await cards.nth(shown.indexOf('m1')).getAttribute('data-rank'), null, 'undo takes back the last pick');
    await page.keyboard.press(position('m3'));
    await page.keyboard.press(position('m2'));
    // The last one is ranked by elimination.
    assert.deepEqual(await cards.evaluateAll((cards) => cards.map((card) => card.dataset.rank)), shown.map((m) => ({ m3: '1', m2: '2', m1: '3' })[m]));
    await page.keyboard.press('Enter');
    await progressIs(page, `${i + 1} of 2 rated`);
  }
  const rankings = (await storedValues(page, 'ratings')).filter((r) => r.value.kind === 'ranking');
  assert.equal(rankings.length, 2);
  for (const ranking of rankings) assert.deepEqual(ranking.value.generation_ids.map((id) => generations.get(id)), ['m3', 'm2', 'm1']);

  // DPO from the A vs B answers (m1 won all its pairs) and from the rankings.
  const fromPairs = await download(page, 'pairwise');
  assert.equal(fromPairs.length, 2);
  for (const row of fromPairs) assert.equal(modelOf(row.chosen), 'm1');
  const fromRankings = await download(page, 'ranking');
  assert.equal(fromRankings.length, 2);
  for (const row of fromRankings) assert.deepEqual([modelOf(row.chosen), modelOf(row.rejected)], ['m3', 'm1']);

  // 1–5: one completion at a time; s skips, and the skipped one comes back.
  await setMode(page, 'likert');
  await progressIs(page, '0 of 6 rated');
  const skippedText = await page.getByTestId('completion').locator('p').textContent();
  await page.keyboard.press('s');
  await page.getByTestId('skipped').waitFor();
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press(String((i % 5) + 1));
    await page.keyboard.press('Enter');
    await progressIs(page, `${i + 1} of 6 rated`);
  }
  await page.getByTestId('revisit-skipped').click();
  assert.equal(await page.getByTestId('completion').locator('p').textContent(), skippedText);
  await page.keyboard.press('4');
  await page.keyboard.press('Enter');
  await progressIs(page, '6 of 6 rated');
  const scores = (await storedValues(page, 'ratings')).filter((r) => r.value.kind === 'likert').map((r) => r.value.score).sort();
  assert.deepEqual(scores, [1, 2, 3, 4, 4, 5]);
  assert.deepEqual(errors, []);
});

test('a dropped file and guidelines with HTML in them are shown as text', async (t) => {
  const browser = await openBrowser();
  // Closed even when an assertion fails: an open browser would keep node running.
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const dialogs = countDialogs(page);
  await page.goto(place('build'));
  await page.getByTestId('drop-zone').waitFor();
  const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>'];
  const csv = `prompt,completion\n"Say <b>hi</b>","${payloads[0]}"\n"Say <b>hi</b>","${payloads[1]}"\n`;
  // A real drop: a DataTransfer holding a File, as the browser builds it.
  await page.evaluate((csv) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([csv], 'payloads.csv', { type: 'text/csv' }));
    const zone = document.querySelector('[data-testid="drop-zone"]');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, csv);
  await page.getByTestId('completion-column').waitFor();
  await page.getByTestId('use-file').click();
  await page.getByTestId('prompts-note').waitFor();

  // The organizer's guidelines: Markdown becomes elements, HTML stays text.
  const guidelines = `**Be kind.** ${payloads[0]}\n- ${payloads[1]}`;
  await page.getByTestId('guidelines-text').fill(guidelines);
  await page.getByTestId('guidelines-save').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="guidelines-save"]').textContent === 'Saved');

  await page.goto(place('contribute'));
  await page.reload();
  const shownGuidelines = page.getByTestId('guidelines');
  assert.equal(await shownGuidelines.locator('strong').textContent(), 'Be kind.');
  assert.equal(await shownGuidelines.locator('p').textContent(), `Be kind. ${payloads[0]}`);
  assert.equal(await shownGuidelines.locator('li').textContent(), payloads[1]);
  assert.equal(await shownGuidelines.locator('img, script').count(), 0);
  await page.getByTestId('rating-mode').selectOption('pairwise');
  await page.getByTestId('completion-a').waitFor();
  assert.equal(await page.getByTestId('task-prompt').textContent(), 'Say <b>hi</b>');
  const shown = await page.locator('.completion-card p').allTextContents();
  assert.deepEqual([...shown].sort(), [...payloads].sort());
  assert.equal(await page.locator('.task img, .task script, .task b').count(), 0);
  assert.equal(dialogs.count, 0, 'no alert() ran');
  assert.deepEqual(errors, []);
});

test('1,000 ratings by keyboard across reloads are kept once each', async (t) => {
  const browser = await openBrowser();
  // Closed even when an assertion fails: an open browser would keep node running.
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  const rows = [];
  for (let i = 0; i < 500; i++) {
    for (const model of ['a', 'b']) rows.push({ prompt: `Prompt number ${i}`, completion: `Completion ${i}${model}`, model });
  }
  await importCompletions(page, 'thousand.jsonl', rows);
  await page.goto(place('contribute'));
  await progressIs(page, '0 of 1000 rated');

  // 👍 for even-numbered completions of model a, else 👎: checked at the end.
  const expected = (text) => /^Completion \d*[02468]a$/.test(text);
  let changed = null;
  for (let batch = 0; batch < 4; batch++) {
    for (let i = 0; i < 250; i++) {
      const text = await page.getByTestId('completion').locator('p').textContent();
      await page.keyboard.press(expected(text) ? 'y' : 'n');
      await page.keyboard.press('Enter');
      await progressIs(page, `${batch * 250 + i + 1} of 1000 rated`);
    }
    await page.reload();
    await progressIs(page, `${(batch + 1) * 250} of 1000 rated`);
    if (batch === 1) {
      // Change a rated answer: the new one replaces it, the count stays.
      await page.keyboard.press('ArrowLeft');
      changed = await page.getByTestId('completion').locator('p').textContent();
      await page.keyboard.press(expected(changed) ? 'n' : 'y');
      await page.keyboard.press('Enter');
      await page.waitForFunction((changed) => document.querySelector('[data-testid="completion"] p')?.textContent !== changed, changed);
      await progressIs(page, '500 of 1000 rated');
    }
  }
  await page.getByTestId('rating-done').waitFor();

  const ratings = await storedValues(page, 'ratings');
  assert.equal(ratings.length, 1000);
  const items = new Map((await storedValues(page, 'items')).map((item) => [item.generation.id, item.generation.text]));
  const rated = ratings.map((r) => items.get(r.value.generation_id));
  assert.equal(new Set(rated).size, 1000, 'each completion rated once');
  for (const rating of ratings) {
    const text = items.get(rating.value.generation_id);
    assert.equal(rating.value.up, text === changed ? !expected(text) : expected(text), text);
  }
  assert.deepEqual(errors, []);
});

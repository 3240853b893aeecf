// Stable identity: a completion's id is a hash of what it is, so importing the
// same file again adds nothing, and a project stored by an older Prefab (whose
// ids hashed the import time, so one file imported twice made two copies)
// is migrated on load with its ratings carried over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { baseUrl, openBrowser, collectErrors, storedValues, importCompletions } from './browser.mjs';

/** SHA-256 in hex over the parts, NUL-separated: how Prefab names prompts and completions. */
function sha256(...parts) {
  const hash = createHash('sha256');
  parts.forEach((part, index) => {
    if (index > 0) hash.update(Buffer.from([0]));
    hash.update(part);
  });
  return hash.digest('hex');
}

/** Writes values into the page's IndexedDB as an older Prefab left them. */
function writeStored(page, entries) {
  return page.evaluate(
    (entries) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('prefab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const transaction = open.result.transaction(['settings', 'items', 'ratings'], 'readwrite');
          for (const [store, key, value] of entries) transaction.objectStore(store).put(value, key);
          transaction.oncomplete = () => {
            open.result.close();
            resolve();
          };
          transaction.onerror = () => reject(transaction.error);
        };
      }),
    entries,
  );
}

test('ids are content hashes: an old project migrates, and the same file imported twice adds nothing', async (t) => {
  const browser = await openBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(new URL('#/contribute', baseUrl).href);
  await page.getByTestId('rating-progress').waitFor();

  const text = 'Say hi.';
  const promptId = sha256(text);
  const generation = (id, at) => ({
    id,
    model_id: 'm',
    backend: { kind: 'imported', file: 'hi.jsonl' },
    rendered_prompt: '',
    raw_text: 'Hi!',
    text: 'Hi!',
    created_at_ms: at,
  });
  // Two imports of one file by an older Prefab: two ids, and a rating of each.
  const rating = (id, up, at) => ({ annotator: 'ada', question: 'ok?', value: { kind: 'kto_thumbs', generation_id: id, up }, created_at_ms: at });
  await writeStored(page, [
    ['settings', 'prompts', [{ id: promptId, text }]],
    ['settings', 'annotator', 'ada'],
    ['settings', 'identity_version', 1],
    ['items', `${promptId}/imported/old-1`, { status: 'done', generation: generation('old-1', 1) }],
    ['items', `${promptId}/imported/old-2`, { status: 'done', generation: generation('old-2', 2) }],
    ['ratings', 'r-old-1', rating('old-1', false, 10)],
    ['ratings', 'r-old-2', rating('old-2', true, 20)],
  ]);
  await page.reload();
  await page.getByTestId('rating-progress').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]')?.textContent === '1 of 1 rated');

  const id = sha256(promptId, 'm', '', '', 'Hi!');
  const items = await storedValues(page, 'items');
  assert.deepEqual(items.map((item) => item.generation.id), [id], 'one completion, under its content id');
  const ratings = await storedValues(page, 'ratings');
  assert.equal(ratings.length, 1, 'the two answers about one completion became the newest');
  assert.deepEqual(ratings[0].value, { kind: 'kto_thumbs', generation_id: id, up: true });
  assert.ok((await storedValues(page, 'settings')).includes(2), 'identity_version is 2');

  // The same completion imported (twice) is the one already there.
  const rows = [{ prompt: text, completion: 'Hi!', model: 'm' }];
  await importCompletions(page, 'hi.jsonl', rows);
  await importCompletions(page, 'hi.jsonl', rows);
  assert.equal((await storedValues(page, 'items')).length, 1);
  await page.goto(new URL('#/contribute', baseUrl).href);
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]')?.textContent === '1 of 1 rated');
  assert.deepEqual(errors, []);
});

// Files people bring are read in a worker of their own: a Parquet file that
// crashes the reader is a clear error naming it, a 200 MB file shows its
// progress and can be cancelled, and the page keeps working through both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdtemp, rm, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser, collectErrors, place } from './browser.mjs';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

let browser;
let folder;
before(async () => {
  browser = await openBrowser();
  folder = await mkdtemp(path.join(tmpdir(), 'prefab-reading-'));
});
after(async () => {
  await browser?.close();
  await rm(folder, { recursive: true, force: true });
});

/** The page still answers: a pasted prompt (`text`, new to the list) lands in it. */
async function stillWorks(page, text) {
  const count = async () => Number((await page.getByTestId('prompt-count').textContent()).match(/^(\d+) prompts?$/)[1]);
  const before = await count();
  await page.getByTestId('paste-prompts').fill(text);
  await page.getByTestId('add-pasted').click();
  await page.waitForFunction((expected) => document.querySelector('[data-testid="prompt-count"]')?.textContent === `${expected} prompt${expected === 1 ? '' : 's'}`, before + 1);
}

test('a Parquet file that crashes the reader is a clear error naming it, and the page keeps working', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(place('build'));
  await page.getByTestId('prompt-count').waitFor();
  // pyarrow's file with a few bytes flipped, which makes the parquet crate
  // panic (the release build aborts on a panic: no catching it there).
  await page.getByTestId('prompt-file').setInputFiles(path.join(fixtures, 'panics.parquet'));
  const problem = page.getByTestId('prompts-error');
  await problem.waitFor({ timeout: 30_000 });
  assert.match(await problem.textContent(), /^panics\.parquet could not be read: it crashed the file reader \(.+\)\. The file is damaged or not what its name says; nothing was imported\.$/);
  assert.equal(await page.getByTestId('file-reading').count(), 0);
  await stillWorks(page, 'Still here after the crash?');
  // The crash itself is in the console (the reader's panic, which names the parquet crate), and nothing else.
  assert.deepEqual(errors.filter((error) => !/^(worker )?console: panicked at .*parquet/s.test(error)), []);
  await page.close();
});

test('a 200 MB file is read with its progress shown, and Cancel stops it with nothing imported', async () => {
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  // 200 MB of prompts, one per line.
  const big = path.join(folder, 'big.jsonl');
  const file = await open(big, 'w');
  const block = Buffer.from(Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ prompt: `Prompt number ${i}: tell me something true about the number ${i}.` })).join('\n') + '\n');
  for (let written = 0; written < 200e6; written += block.length) await file.write(block);
  await file.close();

  await page.goto(place('build'));
  await page.getByTestId('prompt-count').waitFor();

  await page.getByTestId('prompt-file').setInputFiles(big);
  const reading = page.getByTestId('file-reading');
  await page.waitForFunction(() => /^Reading big\.jsonl: [\d.]+ [kM]B of 20\d\.\d MB… Cancel$/.test(document.querySelector('[data-testid="file-reading"]')?.textContent ?? ''));
  // The page answers while the file is read.
  await stillWorks(page, 'Still here while a big file is read?');
  const during = await page.getByTestId('prompt-count').textContent();
  assert.ok(await reading.isVisible(), 'still reading');
  await page.getByTestId('file-read-cancel').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompts-note"]')?.textContent === 'Reading big.jsonl was cancelled; nothing was imported.');
  assert.equal(await reading.count(), 0);
  assert.equal(await page.getByTestId('prompt-count').textContent(), during, 'nothing of the file was imported');

  // Another file picked while one is read replaces it: only the second is heard of.
  // (A file input picks the same file again without a change event: the big one under another name.)
  const again = path.join(folder, 'big-again.jsonl');
  await link(big, again);
  await page.getByTestId('prompt-file').setInputFiles(again);
  await reading.waitFor();
  await page.getByTestId('prompt-file').setInputFiles({ name: 'small.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"prompt": "Name a bird."}\n') });
  await page.getByTestId('use-file').waitFor();
  assert.equal(await reading.count(), 0);
  assert.equal(await page.getByTestId('prompts-note').count(), 0, 'the replaced read says nothing');
  assert.equal(await page.getByTestId('prompts-error').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

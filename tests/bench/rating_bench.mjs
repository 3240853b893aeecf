// The rating benchmark: how fast the next item appears after a rating, with
// 10,000 records in the project, in the release page in Debian's headless
// Chromium. `cargo xtask bench rating` runs it; it prints figures and never
// asserts them.
//
// The project gets 10,000 prompts with two completions each (20,000 to rate)
// through the page's own file import. Then, for each measured rating, the
// benchmark presses y and Enter as a person would, and the page measures
// from the Enter key's event time to the first frame painted with the next
// item (a requestAnimationFrame after the item changed, then a task: the
// frame has been handed to the compositor by then). That span includes the
// rating's durable IndexedDB write, which comes before the next item by
// design.
//
// Environment:
//   PREFAB_URL          the release build's root (default http://127.0.0.1:8080/)
//   CHROMIUM            the browser binary (default /usr/bin/chromium)
//   PREFAB_BENCH_RATINGS  measured ratings (default 300)

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';
const measured = Number(process.env.PREFAB_BENCH_RATINGS ?? 300);
const PROMPTS = 10_000;
const WARM_UP = 20;

const place = (name) => new URL(`#/${name}`, baseUrl).href;

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** 10,000 prompts, two completions each, as a KTO-style JSONL file. */
function projectFile() {
  const lines = [];
  for (let i = 0; i < PROMPTS; i++) {
    const prompt = `Write a haiku about item ${i} of the benchmark, please.`;
    lines.push(JSON.stringify({ prompt, completion: `Haiku ${i}, first try:\nquiet numbers fall\ninto the browser's keeping`, model: 'bench-a' }));
    lines.push(JSON.stringify({ prompt, completion: `Haiku ${i}, second try:\nten thousand prompts wait\neach one rated, none lost`, model: 'bench-b' }));
  }
  return Buffer.from(lines.join('\n'));
}

/** Records, in the page, Enter → next item painted for every rating. */
function instrument() {
  window.__prefabBench = { marks: [], enterAt: null, index: null };
  const bench = window.__prefabBench;
  addEventListener('keydown', (event) => {
    if (event.key === 'Enter') bench.enterAt = event.timeStamp;
  }, true);
  const check = () => {
    const index = document.querySelector('[data-testid="task"]')?.dataset.index ?? null;
    if (index === bench.index) return;
    bench.index = index;
    if (bench.enterAt === null) return;
    const start = bench.enterAt;
    bench.enterAt = null;
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => bench.marks.push(performance.now() - start);
      channel.port2.postMessage(null);
    });
  };
  new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-index'] });
  check();
}

const profile = await mkdtemp(path.join(tmpdir(), 'prefab-rating-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(place('build'));
  await page.getByTestId('prompt-count').waitFor();

  const importStart = performance.now();
  await page.getByTestId('prompt-file').setInputFiles({ name: 'bench.jsonl', mimeType: 'application/json', buffer: projectFile() });
  await page.getByTestId('use-file').click();
  await page.getByTestId('prompts-note').waitFor({ timeout: 300_000 });
  const importSeconds = (performance.now() - importStart) / 1000;

  // A fresh load, so the figures include reading 10,000 records back.
  await page.goto(place('contribute'));
  const openStart = performance.now();
  await page.reload();
  await page.getByTestId('task').waitFor({ timeout: 300_000 });
  const openSeconds = (performance.now() - openStart) / 1000;
  const total = await page.getByTestId('rating-progress').textContent();

  await page.evaluate(instrument);
  for (let i = 0; i < WARM_UP + measured; i++) {
    await page.keyboard.press(i % 3 === 2 ? 'n' : 'y');
    await page.keyboard.press('Enter');
    await page.waitForFunction((count) => window.__prefabBench.marks.length >= count, i + 1, { timeout: 60_000 });
  }
  const marks = (await page.evaluate(() => window.__prefabBench.marks)).slice(WARM_UP);
  const rated = await page.getByTestId('rating-progress').textContent();

  const f = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`project: ${PROMPTS.toLocaleString('en')} prompts × 2 completions (${total.replace(/^0 of /, '').replace(' rated', '')} items to rate), imported in ${importSeconds.toFixed(1)} s; a reload of Contribute showed the first item in ${openSeconds.toFixed(2)} s`);
  console.log(`keypress (Enter) → next item painted, ${marks.length} ratings after ${WARM_UP} warm-up: p50 ${f(percentile(marks, 50))}, p95 ${f(percentile(marks, 95))}, max ${f(Math.max(...marks))}`);
  console.log(`after the run: ${rated}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}

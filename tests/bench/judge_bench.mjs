// The judge benchmark: the logit judge against a critique judge, both on
// Prefab's local model in its worker, on the same records, in Debian's
// headless Chromium. `cargo xtask bench judge` writes the requests (the page's
// own judge prompts, from `crates/core/examples/judge_requests.rs`), serves
// them under /bench-data/ and runs this; it prints figures, never asserts them.
//
// - logit: one `Score` request per record — one forward pass over the rubric,
//   the prompt and the completion, then the probabilities of "1".."5";
// - critique: one `Generate` per prompt over its two completions, greedy, up
//   to 256 tokens: a rating and a rationale for each, as the page asks a
//   local critique judge.
//
// Records per minute counts completions judged. One warm-up request of each
// kind runs first and is not counted.
//
// Environment: PREFAB_URL (the server's root), PREFAB_MODEL_FILE, CHROMIUM.

import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';
const modelFile = process.env.PREFAB_MODEL_FILE ?? 'SmolLM2-135M-Instruct.Q4_1.gguf';
const CRITIQUE_TOKENS = 256;

const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main() {
  const requests = await (await fetch(new URL('bench-data/judge_requests.json', baseUrl))).json();
  console.log(`model: ${modelFile}; ${requests.records} records (10 demo prompts × 2 completions), aspect ${requests.aspect}`);
  console.log(`load average at the start (1, 5, 15 min): ${loadAverage()}`);
  const profile = await mkdtemp(path.join(tmpdir(), 'prefab-judge-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(new URL(`bench/page/index.html?model=${encodeURIComponent(modelFile)}`, baseUrl).href);
    await page.waitForFunction(() => window.benchReady === true);
    await page.evaluate(() => window.bench.load('prefab'));
    const send = (body, last) => page.evaluate(([body, last]) => window.bench.prefabRequest(body, last), [body, last]);
    const score = (request) => send({ type: 'Score', prompt: { kind: 'chat', ...request }, candidates: requests.candidates }, 'Scores');
    const critique = (request) =>
      send({ type: 'Generate', messages: request.messages, params: { temperature: 0, max_new_tokens: CRITIQUE_TOKENS } }, 'Done');

    await score(requests.logit[0]);
    await critique(requests.critique[0]);

    let logitSeconds = 0;
    let expected = [];
    for (const request of requests.logit) {
      const { answer, seconds } = await score(request);
      logitSeconds += seconds;
      const mass = answer.probs.reduce((a, b) => a + b, 0);
      expected.push(answer.probs.reduce((sum, p, i) => sum + (i + 1) * p, 0) / mass);
    }
    let critiqueSeconds = 0;
    let generated = 0;
    let judged = 0;
    for (const request of requests.critique) {
      const { answer, seconds } = await critique(request);
      critiqueSeconds += seconds;
      generated += answer.stats.generated_tokens;
      judged += request.texts;
    }
    const logitRate = (requests.logit.length / logitSeconds) * 60;
    const critiqueRate = (judged / critiqueSeconds) * 60;
    const rows = [
      ['judge', 'records', 'seconds', 'records / min', 'per request'],
      ['logit (1 forward pass)', requests.logit.length, logitSeconds.toFixed(1), logitRate.toFixed(0), `${(logitSeconds / requests.logit.length).toFixed(2)} s`],
      [`critique (≤ ${CRITIQUE_TOKENS} new tokens, 2 per request)`, judged, critiqueSeconds.toFixed(1), critiqueRate.toFixed(0), `${(critiqueSeconds / requests.critique.length).toFixed(2)} s, ${(generated / requests.critique.length).toFixed(0)} tokens`],
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)));
    console.log();
    console.log(rows.map((row) => row.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd()).join('\n'));
    console.log();
    console.log(`logit / critique: ${(logitRate / critiqueRate).toFixed(1)}x records per minute (aim: at least 20x)`);
    const good = expected.filter((_, i) => i % 2 === 0);
    const weak = expected.filter((_, i) => i % 2 === 1);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`logit judge's mean expected rating: haiku ${mean(good).toFixed(2)}, prose ${mean(weak).toFixed(2)} (of 5)`);
    console.log(`load average at the end (1, 5, 15 min): ${loadAverage()}`);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

await main();

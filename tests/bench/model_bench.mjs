// The model benchmark: Prefab's model worker against wllama on one thread, on
// the same GGUF file, in Debian's headless Chromium. `cargo xtask bench` runs
// it against the release build; it prints figures and never asserts them.
//
// For each engine: the load time (cold: a fresh profile, so a download from
// the local server; warm: a second load in a new worker, from the browser's
// cache), the prompt's length in tokens, prefill and decode speeds (64 new
// tokens, EOS ignored, greedy) as the median of several runs after a warm-up,
// and the peak wasm memory. Then the ratios Prefab / wllama.
//
// The runs of the two engines alternate (Prefab, wllama, Prefab, …) so that a
// burst of load from elsewhere on a shared machine slows both alike, and the
// machine's load average is printed with the figures.
//
// Environment:
//   PREFAB_URL          the server's root (default http://127.0.0.1:8080/), which
//                       serves the release build at /, the model at /models/
//                       and this folder at /bench/
//   PREFAB_MODEL_FILE   the model's file name under /models/
//   CHROMIUM            the browser binary (default /usr/bin/chromium)
//   PREFAB_BENCH_RUNS   measured runs per engine (default 3)
//   PREFAB_BENCH_ENGINES  which engines, comma-separated (default prefab,wllama)

import { chromium } from 'playwright-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';
const modelFile = process.env.PREFAB_MODEL_FILE ?? 'SmolLM2-135M-Instruct.Q4_1.gguf';
const runs = Number(process.env.PREFAB_BENCH_RUNS ?? 3);
const engines = (process.env.PREFAB_BENCH_ENGINES ?? 'prefab,wllama').split(',');
const labels = { prefab: 'Prefab', wllama: 'wllama (1 thread)' };

/** No step of a sane run takes this long; a hung worker ends the run instead of the machine's patience. */
const STEP_TIMEOUT_MS = 10 * 60 * 1000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_TIMEOUT_MS / 60000} minutes`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** "median (min–max)", or a dash when there is nothing to show. */
function spread(values, digits = 1) {
  if (values.length === 0) return '—';
  const f = (x) => x.toFixed(digits);
  return values.length === 1 ? f(values[0]) : `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  return rows.map((row) => row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main() {
  const wllamaVersion = JSON.parse(
    await readFile(new URL('./node_modules/@wllama/wllama/package.json', import.meta.url), 'utf8'),
  ).version;
  console.log(`model: ${modelFile}; ${runs} measured runs per engine after one warm-up; 64 new tokens, greedy, EOS ignored`);
  console.log(`load average at the start (1, 5, 15 min): ${loadAverage()}`);

  // A fresh profile, so the first load of each engine is a real cold load.
  const profile = await mkdtemp(path.join(tmpdir(), 'prefab-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // The flags of tests/e2e/browser.mjs: no sandbox (root), no GPU (so no
    // WebGPU either: CPU against CPU), and no attempts to reach Google.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const failures = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => failures.push(`page: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`  (browser console) ${message.text()}`);
    });
    await page.goto(new URL(`bench/page/index.html?model=${encodeURIComponent(modelFile)}`, baseUrl).href);
    await page.waitForFunction(() => window.benchReady === true);
    if (!(await page.evaluate(() => crossOriginIsolated))) {
      console.log('  note: the page is not cross-origin isolated (missing COOP/COEP headers)');
    }

    const call = (method, name) =>
      withTimeout(page.evaluate(([method, name]) => window.bench[method](name), [method, name]), `${labels[name]} ${method}`);

    const results = {};
    for (const name of engines) {
      try {
        const cold = await call('load', name);
        const warm = await call('load', name);
        console.log(`${labels[name]}: loaded (cold ${cold.seconds.toFixed(2)} s, warm ${warm.seconds.toFixed(2)} s) ${JSON.stringify(warm.detail)}`);
        const warmUp = await call('generate', name);
        results[name] = { cold: cold.seconds, warm: warm.seconds, runs: [], first: warmUp };
      } catch (error) {
        failures.push(`${labels[name]}: ${error.message}`);
      }
    }
    const live = engines.filter((name) => results[name]);
    for (let run = 0; run < runs; run++) {
      for (const name of live) {
        if (results[name].failed) continue;
        try {
          const result = await call('generate', name);
          results[name].runs.push(result);
          console.log(`  run ${run + 1} ${labels[name]}: prefill ${result.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${result.decodeTokensPerSecond.toFixed(1)} tok/s, ${result.wallSeconds.toFixed(1)} s`);
        } catch (error) {
          results[name].failed = true;
          failures.push(`${labels[name]}: ${error.message}`);
        }
      }
    }
    for (const name of live) {
      try {
        results[name].memory = await call('memoryBytes', name);
      } catch (error) {
        failures.push(`${labels[name]} memory: ${error.message}`);
      }
    }

    console.log();
    const rows = [['engine', 'load s cold', 'load s warm', 'prompt tok', 'new tok', 'prefill tok/s', 'decode tok/s', 'wall s / run', 'peak wasm MiB']];
    for (const name of live) {
      const { cold, warm, runs: measured, memory, first } = results[name];
      rows.push([
        labels[name],
        cold.toFixed(2),
        warm.toFixed(2),
        first.promptTokens,
        first.generatedTokens,
        spread(measured.map((r) => r.prefillTokensPerSecond)),
        spread(measured.map((r) => r.decodeTokensPerSecond)),
        spread(measured.map((r) => r.wallSeconds)),
        memory ? (memory / 2 ** 20).toFixed(0) : '—',
      ]);
    }
    console.log(table(rows));
    console.log('(speeds: median (min–max) of the measured runs; decode counts the tokens after the first, which comes from the prefill)');
    console.log(`(wllama ${wllamaVersion}, llama.cpp's own timings; peak wasm: the engine worker's WebAssembly.Memory size, which never shrinks)`);

    const [ours, theirs] = [results.prefab, results.wllama];
    if (ours?.runs.length && theirs?.runs.length) {
      const ratio = (key) => median(ours.runs.map((r) => r[key])) / median(theirs.runs.map((r) => r[key]));
      console.log();
      console.log(`Prefab / wllama: prefill ${ratio('prefillTokensPerSecond').toFixed(2)}x (target 3x), decode ${ratio('decodeTokensPerSecond').toFixed(2)}x (target 2.5x)`);
      if (ours.first.promptTokens !== theirs.first.promptTokens) {
        console.log(`note: the engines read the prompt as ${ours.first.promptTokens} and ${theirs.first.promptTokens} tokens`);
      }
    }
    for (const name of live) {
      console.log(`${labels[name]} wrote: ${JSON.stringify(results[name].first.text.slice(0, 100))}…`);
    }
    console.log(`load average at the end (1, 5, 15 min): ${loadAverage()}`);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    for (const failure of failures) console.error(`model bench: ${failure}`);
    process.exitCode = 1;
  }
}

await main();

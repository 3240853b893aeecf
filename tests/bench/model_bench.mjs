// The model benchmark, issue 16's table: Prefab's model worker (one, and one
// per core as the page runs a pool) against wllama (llama.cpp in wasm) on one thread and on all threads, in Debian's
// headless Chromium, and native llama.cpp (llama-cpp-python, ./native_llama.py)
// on one thread and all cores, on the same GGUF file and prompt; then the
// pool job and the logit judge's job. `cargo xtask bench model` runs it
// against the release build; it prints figures and never asserts them.
//
// 1. Single stream, for each engine: the load time (cold: a fresh profile, so
//    a download from the local server; warm: a second load in a new worker,
//    from the browser's cache), the prompt's length in tokens, prefill and
//    decode speeds (64 new tokens, EOS ignored, greedy) as the median of
//    several runs after a warm-up, and the peak memory.
// 2. The pool job: the 10 demo prompts × 4 samples × 64 new tokens (EOS
//    ignored, temperature 0.7, seeds 0..3), as generated tokens per second,
//    for Prefab on one worker and on one per core (./page/bench.mjs
//    `poolJob`: 8 requests in flight per worker, decoded together) and
//    wllama on all threads.
// 3. The judge job: the logit judge on 40 records (the demo prompts, 4
//    completions each, one judge prompt), records per minute, on one worker
//    with the worker's prefix reuse and without it, and on one worker per
//    core with it.
// Then one table with the ratios issue 16 names.
//
// The single-stream runs of the browser engines alternate (Prefab, wllama,
// wllama on all threads, Prefab, …) so that a burst of load from elsewhere on
// a shared machine slows them alike, and the machine's load average is
// printed with the figures. Native llama.cpp runs in its own process first,
// while the browser is idle.
//
// Environment:
//   PREFAB_URL          the server's root (default http://127.0.0.1:8080/), which
//                       serves the release build at /, the model at /models/,
//                       this folder at /bench/ and the jobs' requests at
//                       /bench-data/judge_requests.json
//   PREFAB_MODEL_FILE   the model's file name under /models/
//   PREFAB_MODEL_PATH   the same file on disk, for native llama.cpp
//   PREFAB_PYTHON       a python with llama-cpp-python (xtask: the test-tools venv's)
//   CHROMIUM            the browser binary (default /usr/bin/chromium)
//   PREFAB_BENCH_RUNS   measured runs per engine (default 3)
//   PREFAB_BENCH_ENGINES  which engines, comma-separated (default prefab,prefab-mt,wllama,wllama-mt,native)
//   PREFAB_BENCH_JOBS   which jobs, comma-separated (default pool,judge; empty for none)
//   PREFAB_BENCH_JOB_BUDGET  seconds after which a pool or judge job sends no more requests (default 900)

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const baseUrl = process.env.PREFAB_URL ?? 'http://127.0.0.1:8080/';
const modelFile = process.env.PREFAB_MODEL_FILE ?? 'SmolLM2-135M-Instruct.Q4_1.gguf';
const runs = Number(process.env.PREFAB_BENCH_RUNS ?? 3);
const engines = (process.env.PREFAB_BENCH_ENGINES ?? 'prefab,prefab-mt,wllama,wllama-mt,native').split(',').filter(Boolean);
const jobs = (process.env.PREFAB_BENCH_JOBS ?? 'pool,judge').split(',').filter(Boolean);
const browserEngines = engines.filter((name) => name !== 'native');

/** No step of a sane run takes this long; a hung worker ends the run instead of the machine's patience. */
const STEP_TIMEOUT_MS = 40 * 60 * 1000;

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

const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/**
 * Native llama.cpp on `threads` counts: ./native_llama.py with the venv's
 * python, the conversation on its stdin, its JSON on stdout (its progress on
 * stderr goes straight to ours).
 */
function runNative(messages, threads) {
  const python = process.env.PREFAB_PYTHON;
  const model = process.env.PREFAB_MODEL_PATH;
  if (!python || !model) {
    return Promise.reject(new Error('PREFAB_PYTHON and PREFAB_MODEL_PATH are needed (cargo xtask bench model sets them)'));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(python, [new URL('./native_llama.py', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`native_llama.py exited with ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(new Error(`native_llama.py wrote no JSON: ${error.message}`));
      }
    });
    child.stdin.end(JSON.stringify({ model, messages, new_tokens: 64, runs, threads }));
  });
}

async function main() {
  const wllamaVersion = JSON.parse(
    await readFile(new URL('./node_modules/@wllama/wllama/package.json', import.meta.url), 'utf8'),
  ).version;
  const requests = await (await fetch(new URL('bench-data/judge_requests.json', baseUrl))).json();
  const pool = requests.pool;
  const poolJob = {
    conversations: pool.conversations,
    samples: pool.samples,
    newTokens: pool.max_new_tokens,
    temperature: pool.temperature,
    topP: pool.top_p,
    // Each pool (and judge) job stops sending requests after this long (its
    // figure then counts the requests it finished, and the table says so).
    budgetSeconds: Number(process.env.PREFAB_BENCH_JOB_BUDGET ?? 900),
  };
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
  const labels = { prefab: 'Prefab', 'prefab-mt': 'Prefab', wllama: 'wllama', 'wllama-mt': 'wllama', native: 'native llama.cpp' };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => failures.push(`page: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`  (browser console) ${message.text()}`);
    });
    await page.goto(new URL(`bench/page/index.html?model=${encodeURIComponent(modelFile)}`, baseUrl).href);
    await page.waitForFunction(() => window.benchReady === true);
    if (!(await page.evaluate(() => crossOriginIsolated))) {
      console.log('  note: the page is not cross-origin isolated (missing COOP/COEP headers): wllama cannot use threads');
    }
    const { prompt, cores, prefabEngines, prefabInFlight } = await page.evaluate(() => ({
      prompt: window.bench.prompt,
      cores: window.bench.cores,
      prefabEngines: window.bench.prefabEngines,
      prefabInFlight: window.bench.prefabInFlight,
    }));
    const threadsOf = { prefab: 1, 'prefab-mt': prefabEngines, wllama: 1, 'wllama-mt': cores };

    const call = (what, fn, ...args) =>
      withTimeout(page.evaluate(([fn, args]) => window.bench[fn](...args), [fn, args]), what);

    // Native first, in its own process, while the browser does nothing.
    let native = null;
    if (engines.includes('native')) {
      const threads = [...new Set([1, availableParallelism()])];
      try {
        native = await withTimeout(runNative([{ role: 'user', content: prompt }], threads), 'native llama.cpp');
      } catch (error) {
        failures.push(`native llama.cpp: ${error.message}`);
      }
    }

    const results = {};
    for (const name of browserEngines) {
      try {
        const cold = await call(`${name} load`, 'load', name);
        // Before anything else grows it: what the first load alone took
        // (the second swaps models, holding both for a moment).
        const loaded = await call(`${name} memory`, 'memoryBytes', name);
        const warm = await call(`${name} load`, 'load', name);
        console.log(`${name}: loaded (cold ${cold.seconds.toFixed(2)} s, warm ${warm.seconds.toFixed(2)} s) ${JSON.stringify(warm.detail)}`);
        const warmUp = await call(`${name} generate`, 'generate', name);
        results[name] = { cold: cold.seconds, warm: warm.seconds, detail: warm.detail, runs: [], first: warmUp, loaded };
      } catch (error) {
        failures.push(`${name}: ${error.message}`);
      }
    }
    const live = browserEngines.filter((name) => results[name]);
    for (let run = 0; run < runs; run++) {
      for (const name of live) {
        if (results[name].failed) continue;
        try {
          const result = await call(`${name} generate`, 'generate', name);
          results[name].runs.push(result);
          console.log(`  run ${run + 1} ${name}: prefill ${result.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${result.decodeTokensPerSecond.toFixed(1)} tok/s, ${result.wallSeconds.toFixed(1)} s`);
        } catch (error) {
          results[name].failed = true;
          failures.push(`${name}: ${error.message}`);
        }
      }
    }

    // The pool job: Prefab on one worker and on one per core, and wllama on
    // all threads (its best).
    const pools = {};
    if (jobs.includes('pool')) {
      for (const name of ['prefab', 'prefab-mt', 'wllama-mt'].filter((name) => results[name])) {
        try {
          const result = await call(`${name} pool job`, 'poolJob', name, poolJob);
          pools[name] = result;
          console.log(`pool job, ${name}: ${result.generated} tokens in ${result.seconds.toFixed(1)} s (${result.requests} requests${result.partial ? ', stopped at the time budget' : ''})`);
        } catch (error) {
          failures.push(`${name} pool job: ${error.message}`);
        }
      }
    }

    // The judge job: one untimed Score first (the worker's first judge pass),
    // then the 40 records with the prefix reused, then without; on one
    // worker per core, with the prefix reused (as the page runs it).
    const judges = {};
    if (jobs.includes('judge')) {
      const records = requests.judge_job;
      const modes = [['prefab', true], ['prefab', false], ['prefab-mt', true]].filter(([name]) => results[name]);
      for (const [name, reusePrefix] of modes) {
        try {
          // The warm-up reads the last record, of another prompt than the
          // first: the job's first record then shares the rubric with it, as
          // a new prompt's first record does in a judge run.
          await call('judge warm-up', 'judgeWarmUp', name, { records: records.slice(-1), candidates: requests.candidates });
          const result = await call('judge job', 'judgeJob', name, { records, candidates: requests.candidates, reusePrefix, budgetSeconds: poolJob.budgetSeconds });
          judges[`${name} ${reusePrefix ? 'reuse' : 'fresh'}`] = { name, reusePrefix, ...result };
          console.log(`judge job, ${name}, prefix ${reusePrefix ? 'reused' : 'not reused'}: ${result.records} records in ${result.seconds.toFixed(1)} s${result.partial ? ' (stopped at the time budget)' : ''}`);
        } catch (error) {
          failures.push(`judge job (${name}): ${error.message}`);
        }
      }
      const base = judges['prefab reuse']?.expected ?? [];
      for (const other of ['prefab fresh', 'prefab-mt reuse'].filter((key) => judges[key])) {
        const drift = Math.max(0, ...judges[other].expected.slice(0, base.length).map((x, i) => (x === undefined ? 0 : Math.abs(x - base[i]))));
        console.log(`  ${other} and prefab reuse: expected ratings differ by at most ${drift.toExponential(1)} (neither reuse nor workers may change them)`);
      }
    }

    for (const name of live) {
      try {
        results[name].memory = await call(`${name} memory`, 'memoryBytes', name);
      } catch (error) {
        failures.push(`${name} memory: ${error.message}`);
      }
    }

    // ---- The table ----
    const label = (name) =>
      name === 'prefab-mt' ? `Prefab (${threadsOf[name]} workers)` : `${labels[name]} (${threadsOf[name]} thread${threadsOf[name] > 1 ? 's' : ''})`;
    const rate = (name, key) => (results[name]?.runs.length ? median(results[name].runs.map((r) => r[key])) : null);
    const nativeRuns = (threads) => native?.threads[String(threads)]?.runs ?? [];
    const nativeRate = (threads, key) => (nativeRuns(threads).length ? median(nativeRuns(threads).map((r) => r[key])) : null);

    console.log();
    console.log(`==== issue 16: ${modelFile}, ${cores} cores, load average ${loadAverage()} ====`);
    console.log();
    console.log('Single stream: the bench prompt, 64 new tokens, greedy, EOS ignored');
    const rows = [['engine', 'load s cold', 'load s warm', 'prompt tok', 'new tok', 'prefill tok/s', 'decode tok/s', 'wall s / run', 'workers', 'MiB after load / worker', 'peak MiB / worker', 'peak MiB total']];
    for (const name of live) {
      const { cold, warm, runs: measured, memory, first, loaded } = results[name];
      rows.push([
        label(name),
        cold.toFixed(2),
        warm.toFixed(2),
        first.promptTokens,
        first.generatedTokens,
        spread(measured.map((r) => r.prefillTokensPerSecond)),
        spread(measured.map((r) => r.decodeTokensPerSecond)),
        spread(measured.map((r) => r.wallSeconds)),
        memory ? memory.length : '—',
        loaded?.length ? loaded.map(mib).join(' + ') : '—',
        memory?.length ? memory.map(mib).join(' + ') : '—',
        memory?.length ? mib(memory.reduce((a, b) => a + b, 0)) : '—',
      ]);
    }
    for (const [threads, figures] of Object.entries(native?.threads ?? {})) {
      const measured = figures.runs;
      rows.push([
        `native llama.cpp (${threads} thread${threads > 1 ? 's' : ''})`,
        figures.load_seconds.toFixed(2),
        '—',
        measured[0].prompt_tokens,
        measured[0].generated_tokens,
        spread(measured.map((r) => r.prefill_tokens_per_second)),
        spread(measured.map((r) => r.decode_tokens_per_second)),
        '—',
        1,
        '—',
        '—',
        `${mib(native.peak_rss_bytes)} RSS`,
      ]);
    }
    console.log(table(rows));
    console.log('(speeds: median (min–max) of the measured runs; decode counts the tokens after the first, which comes from the prefill;');
    console.log(` wllama ${wllamaVersion}: llama.cpp's own timings; native: llama-cpp-python ${native?.llama_cpp_python ?? '—'}, timed around its eval calls;`);
    console.log(' MiB after load: each worker\'s WebAssembly.Memory size after the first load, before anything ran; peak MiB: the same after every job');
    console.log(' (the attention caches of the sequences that ran, and the buffers of the passes, add to the weights); native: the python process\'s peak RSS over both loads)');
    const counts = new Set([...live.map((name) => results[name].first.promptTokens), ...Object.values(native?.threads ?? {}).map((t) => t.runs[0].prompt_tokens)]);
    if (counts.size > 1) console.log(`note: the engines read the prompt as different numbers of tokens: ${[...counts].join(', ')}`);

    if (Object.keys(pools).length || Object.keys(judges).length) {
      console.log();
      console.log(`Jobs: pool = ${poolJob.conversations.length} demo prompts × ${poolJob.samples} samples × ${poolJob.newTokens} new tokens (EOS ignored, temperature ${poolJob.temperature}, top_p ${poolJob.topP}, top_k 40, seeds 0..${poolJob.samples - 1});`);
      console.log(`      judge = the logit judge (${requests.aspect}) on ${requests.judge_job.length} records: the demo prompts × 4 completions`);
      const jobRows = [['job', 'engine', 'how', 'work', 'seconds', 'throughput']];
      const how = {
        prefab: `${prefabInFlight} Generate in flight, decoded together`,
        'prefab-mt': `${prefabInFlight} Generate in flight per worker, ${threadsOf['prefab-mt']} workers`,
        'wllama-mt': 'one chat completion after another',
      };
      for (const [name, result] of Object.entries(pools)) {
        const whole = poolJob.conversations.length * poolJob.samples;
        const work = result.partial ? `${result.generated} tokens (${result.requests} of ${whole} requests: time budget)` : `${result.generated} tokens`;
        jobRows.push(['pool', label(name), how[name], work, result.seconds.toFixed(1), `${(result.generated / result.seconds).toFixed(1)} tok/s`]);
      }
      for (const result of Object.values(judges)) {
        jobRows.push([
          'judge',
          label(result.name),
          result.reusePrefix ? 'Score, prefix reused' : 'Score, no prefix reuse',
          result.partial ? `${result.records} of ${requests.judge_job.length} records (time budget)` : `${result.records} records`,
          result.seconds.toFixed(1),
          `${((result.records / result.seconds) * 60).toFixed(0)} records/min (${(result.seconds / result.records).toFixed(2)} s each)`,
        ]);
      }
      console.log(table(jobRows));
    }

    console.log();
    console.log('Ratios (issue 16\'s aims in brackets)');
    const ratioRows = [];
    const percent = (a, b) => (a != null && b != null ? `${((a / b) * 100).toFixed(0)} %` : '—');
    const times = (a, b) => (a != null && b != null ? `${(a / b).toFixed(2)}x` : '—');
    const prefill = rate('prefab', 'prefillTokensPerSecond');
    const decode = rate('prefab', 'decodeTokensPerSecond');
    ratioRows.push(['Prefab prefill / native 1 thread', percent(prefill, nativeRate(1, 'prefill_tokens_per_second')), '[≥ 60 %]']);
    ratioRows.push(['Prefab decode / native 1 thread', percent(decode, nativeRate(1, 'decode_tokens_per_second')), '']);
    ratioRows.push(['Prefab / wllama 1 thread: prefill, decode', `${times(prefill, rate('wllama', 'prefillTokensPerSecond'))}, ${times(decode, rate('wllama', 'decodeTokensPerSecond'))}`, '']);
    ratioRows.push([`Prefab / wllama ${cores} threads: prefill, decode`, `${times(prefill, rate('wllama-mt', 'prefillTokensPerSecond'))}, ${times(decode, rate('wllama-mt', 'decodeTokensPerSecond'))}`, '']);
    const poolRate = (name) => (pools[name] ? pools[name].generated / pools[name].seconds : null);
    for (const name of ['prefab', 'prefab-mt'].filter((name) => pools[name])) {
      ratioRows.push([`pool: ${label(name)} tok/s / Prefab single-stream decode`, times(poolRate(name), decode), '[≥ 3x]']);
      ratioRows.push([`pool: ${label(name)} / wllama ${cores} threads`, times(poolRate(name), poolRate('wllama-mt')), '[≥ 8x]']);
    }
    const judgeRate = (key) => (judges[key] ? judges[key].records / judges[key].seconds : null);
    ratioRows.push(['judge: prefix reused / not reused (1 worker)', times(judgeRate('prefab reuse'), judgeRate('prefab fresh')), '']);
    ratioRows.push([`judge: ${label('prefab-mt')} reused / 1 worker not reused`, times(judgeRate('prefab-mt reuse'), judgeRate('prefab fresh')), '[judge ≥ 3x the records/min before issue 16]']);
    console.log(table(ratioRows));

    console.log();
    for (const name of live) {
      console.log(`${label(name)} wrote: ${JSON.stringify(results[name].first.text.slice(0, 100))}…`);
    }
    if (nativeRuns(1).length) console.log(`native llama.cpp (1 thread) wrote: ${JSON.stringify(nativeRuns(1)[0].text.slice(0, 100))}…`);
    for (const [name, result] of Object.entries(pools)) {
      console.log(`${label(name)}'s first pool sample: ${JSON.stringify(result.text.slice(0, 100))}…`);
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

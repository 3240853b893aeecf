// The model benchmark's engines, side by side in one page: Prefab's model
// worker and wllama (llama.cpp compiled to wasm) on one thread and on all
// threads, on the same GGUF file, the same conversation and the same settings
// (greedy, 64 new tokens, EOS ignored); then the jobs of issue 16: the pool
// job (`poolJob`: prompts × samples, sampled) and the logit judge's job
// (`judgeJob`, with and without prefix reuse).
//
// The page only measures; ../model_bench.mjs decides the order of the runs and
// prints the table. Each engine is a small class with the same methods,
// `load`, `generate`, `poolJob`, `memoryBytes` and `close`, put on
// `window.bench` for the driver to call through Playwright.
//
// Both engines report their own prefill and decode times, measured inside
// their workers around the model passes; the page adds the wall time of each
// request as seen from here, a check that includes the messages to and fro.

import { Wllama } from '/bench/node_modules/@wllama/wllama/esm/index.js';

const params = new URLSearchParams(location.search);

/** The model file, served by the xtask server under /models/. */
const MODEL_URL = new URL(`/models/${params.get('model') ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, location.href).href;

/** How many tokens each generation makes: the 64, EOS ignored. */
const NEW_TOKENS = 64;

/**
 * The one user message both engines answer. About 280 tokens of text, so the
 * prompt is about 300 tokens once the model's chat template (ChatML, with
 * SmolLM2's default system prompt) wraps it; each engine renders it with the
 * template in the GGUF file, and the driver prints both token counts.
 */
const PROMPT = [
  'You are helping a team that builds preference datasets for training small language models.',
  'Annotators read a prompt and two candidate answers, then say which answer is better and why.',
  'The team has noticed three problems. First, some annotators prefer longer answers even when',
  'the extra text adds nothing, so the trained model learns to pad its replies. Second, answers',
  'that sound confident are chosen over careful answers that admit uncertainty, even when the',
  'confident answer contains a factual mistake. Third, when both answers are poor, annotators',
  'still have to pick one, and those forced choices add noise to the dataset.',
  '',
  'The team wants a short guide for annotators that addresses each problem. For length, the',
  'guide should say that a shorter answer that fully answers the question is better than a longer',
  'one that repeats itself. For confidence, it should ask annotators to check at least one claim',
  'in each answer and to prefer honesty about uncertainty over confident errors. For poor pairs,',
  'it should add a way to mark both answers as unacceptable, so that the pair can be dropped',
  'instead of being forced into a preference. The guide must fit on one page, use plain words,',
  'and give one concrete example for each rule, taken from everyday questions such as cooking,',
  'travel or household repairs.',
  '',
  'Write the first rule of this guide, about answer length, with its example.',
].join('\n');

const CONVERSATION = [{ role: 'user', content: PROMPT }];

/**
 * Peak memory, wllama's side. Its wasm memory lives in a module worker it
 * builds from a blob, out of the page's reach, and its own report
 * (`wllama_debug`) is compiled out in this version. So every module worker
 * started from a blob gets a probe imported ahead of its own code: the probe
 * keeps each `WebAssembly.Memory` the worker creates (Emscripten creates
 * wllama's in JS, as an import of the module) and answers on a
 * BroadcastChannel — not on the worker's own port, which wllama reads — with
 * the largest one's size. Wasm memory never shrinks, so that size is the
 * peak. The probe only watches: the memory it hands back is the one asked
 * for, and nothing else in the worker changes.
 *
 * Two wllama engines are loaded at once (one thread and all threads), so each
 * probed worker answers with its own number, given when the page made it, and
 * each engine asks for the numbers of the workers made while it loaded.
 * (wllama's pthreads are started by its worker, not here, and share its
 * memory: the one probed worker holds all of an engine's wasm memory.)
 */
const MEMORY_CHANNEL = 'prefab-bench-wasm-memory';
const MEMORY_PROBE = `
const NativeMemory = WebAssembly.Memory;
const memories = [];
function Memory(descriptor) {
  const memory = new NativeMemory(descriptor);
  memories.push(memory);
  return memory;
}
Memory.prototype = NativeMemory.prototype;
WebAssembly.Memory = Memory;
const channel = new BroadcastChannel(${JSON.stringify(MEMORY_CHANNEL)});
channel.onmessage = (event) => {
  // Only the page's question: the other probes' answers reach this channel
  // too, and answering them would set the probes answering each other.
  if (event.data !== 'size?') return;
  const bytes = memories.map((memory) => Number(memory.buffer.byteLength));
  if (bytes.length > 0) channel.postMessage({ worker: PROBED_WORKER, bytes: Math.max(...bytes) });
};
`;
/** How many probed workers the page has made: the next one's number. */
let probedWorkers = 0;
{
  const PageWorker = window.Worker;
  window.Worker = class extends PageWorker {
    constructor(url, options) {
      if (options?.type === 'module' && String(url).startsWith('blob:')) {
        // Static imports run in order, both before anything can message the
        // worker, so the probe is in place before wllama's code starts.
        const source = `const PROBED_WORKER = ${probedWorkers++};\n${MEMORY_PROBE}`;
        const probe = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
        const both = `import ${JSON.stringify(probe)};\nimport ${JSON.stringify(String(url))};\n`;
        url = URL.createObjectURL(new Blob([both], { type: 'text/javascript' }));
      }
      super(url, options);
    }
  };
}

/** The wasm memory sizes the probed workers numbered `workers` report within a second. */
async function probedWasmMemoryBytes(workers) {
  const channel = new BroadcastChannel(MEMORY_CHANNEL);
  const sizes = new Map();
  channel.onmessage = (event) => {
    if (workers.includes(event.data.worker)) sizes.set(event.data.worker, event.data.bytes);
  };
  channel.postMessage('size?');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  channel.close();
  return [...sizes.values()];
}

/** Seconds since `start` (a `performance.now()` reading). */
const secondsSince = (start) => (performance.now() - start) / 1000;

/**
 * The pool job's sampling, the same for every engine: a pool entry's
 * temperature and top_p (from the job), top_k 40 (Prefab's default) and no
 * repetition penalty (llama.cpp's default), so both sample from the same
 * distribution.
 */
const POOL_TOP_K = 40;

/**
 * How many `Generate` requests Prefab's side of the pool job keeps in flight:
 * the worker decodes that many together (`BATCH_SIZE` in
 * crates/llm/src/protocol.rs), as the page's pool run does.
 */
const PREFAB_IN_FLIGHT = 8;

/**
 * Prefab's side of the pool job: every conversation × `samples`, `newTokens`
 * tokens each with EOS ignored, sampled with seeds 0..samples-1, eight
 * requests in flight per worker as the page's pool run sends them (the
 * samples of a prompt share its prefill and decode together). Resolves with the tokens
 * generated, the wall seconds and the number of requests. Past
 * `budgetSeconds` it sends no more requests and says so (`partial`): a
 * machine busy elsewhere can make a job crawl, and a figure from part of the
 * job beats none.
 */
async function poolJob(prefab, job) {
  return eachPoolSample(job, PREFAB_IN_FLIGHT * prefab.workers.length, async (messages, seed) => {
    const done = await prefab.request(
      {
        type: 'Generate',
        messages,
        params: { temperature: job.temperature, top_p: job.topP, top_k: POOL_TOP_K, repetition_penalty: 1.0, seed, max_new_tokens: job.newTokens, ignore_eos: true },
      },
      'Done',
    );
    return { tokens: done.stats.generated_tokens, text: done.text };
  });
}

/**
 * The pool job's loop, the same for every engine: `generate(messages, seed)`
 * for every conversation × `samples`, in that order, with up to `inFlight`
 * requests waiting at once, each resolving with `{ tokens, text }`. Sums the
 * tokens, keeps the first sample's text, and stops sending past
 * `budgetSeconds` (`partial`).
 */
async function eachPoolSample({ conversations, samples, budgetSeconds }, inFlight, generate) {
  const start = performance.now();
  const items = conversations.flatMap((messages) => Array.from({ length: samples }, (_, seed) => ({ messages, seed })));
  let next = 0;
  let generated = 0;
  let requests = 0;
  let partial = false;
  const texts = [];
  const lane = async () => {
    while (next < items.length) {
      if (secondsSince(start) > budgetSeconds) {
        partial = true;
        return;
      }
      const index = next++;
      const sample = await generate(items[index].messages, items[index].seed);
      generated += sample.tokens;
      requests += 1;
      texts[index] = sample.text;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { generated, requests, seconds: secondsSince(start), text: texts[0] ?? '', partial };
}

/**
 * Prefab's logit judge over `records` (one `Score` each, in order), timed
 * request by request. With `reusePrefix` the worker keeps the attention cache
 * of the beginning each record shares with the one before (the judge's
 * instructions, the prompt), as in the page. Without it, an untimed `Score`
 * of a one-word text prompt goes before each record's: the judge's cache
 * then holds a prompt that shares no token with the record's, so the
 * record's `Score` reads its whole prompt, as it would with no reuse at all.
 * No change to the worker is needed for this. Past `budgetSeconds` it stops,
 * as `poolJob` does.
 */
async function judgeJob(prefab, { records, candidates, reusePrefix, budgetSeconds = Infinity }) {
  if (prefab.workers.length > 1) return judgeJobOnEveryWorker(prefab, { records, candidates, budgetSeconds });
  const begun = performance.now();
  let seconds = 0;
  const expected = [];
  for (const record of records) {
    if (secondsSince(begun) > budgetSeconds) return { records: expected.length, seconds, expected, partial: true };
    if (!reusePrefix) {
      await prefab.request({ type: 'Score', prompt: { kind: 'text', text: 'Hi' }, candidates }, 'Scores');
    }
    const start = performance.now();
    const scores = await prefab.request(scoreRequest(record, candidates), 'Scores');
    seconds += secondsSince(start);
    expected.push(expectedRating(scores.probs));
  }
  return { records: records.length, seconds, expected };
}

/**
 * The judge job on several workers, as the page's judge stage runs it: the
 * records dealt to one lane per worker (each lane keeps its worker, so its
 * prefix cache), prefix reused, timed by the wall clock from the first
 * request to the last answer.
 */
async function judgeJobOnEveryWorker(prefab, { records, candidates, budgetSeconds }) {
  const begun = performance.now();
  const expected = [];
  let partial = false;
  const lanes = prefab.workers.map(async (_, lane) => {
    for (let index = lane; index < records.length; index += prefab.workers.length) {
      if (secondsSince(begun) > budgetSeconds) {
        partial = true;
        return;
      }
      const scores = await prefab.request(scoreRequest(records[index], candidates), 'Scores', lane);
      expected[index] = expectedRating(scores.probs);
    }
  });
  await Promise.all(lanes);
  return { records: expected.filter((x) => x !== undefined).length, seconds: secondsSince(begun), expected, partial };
}

/** Every worker's first judge pass over `records`, untimed. */
async function judgeWarmUp(prefab, { records, candidates }) {
  const lanes = prefab.workers.map((_, worker) => Promise.all(records.map((record) => prefab.request(scoreRequest(record, candidates), 'Scores', worker))));
  await Promise.all(lanes);
}

/** The `Score` request of one judge record (`{ messages, answer_prefix }`). */
function scoreRequest(record, candidates) {
  return { type: 'Score', prompt: { kind: 'chat', ...record }, candidates };
}

/** The expected rating (1–5) of the candidates' probabilities, renormalized. */
function expectedRating(probs) {
  const mass = probs.reduce((a, b) => a + b, 0);
  return probs.reduce((sum, p, i) => sum + (i + 1) * p, 0) / mass;
}

/**
 * Prefab's model worker, spoken to in its JSON protocol
 * (crates/llm/src/protocol.rs): `Load` → `Progress`* → `Ready`,
 * `Generate` → `Token`* → `Done`, `Score` → `Scores`, `Ping` → `Pong`; any
 * of them may end in `Failed`.
 */
class PrefabEngine {
  name = 'Prefab';

  constructor(workers) {
    this.workers = workers;
    this.inFlight = workers.map(() => 0);
    this.nextId = 1;
  }

  /**
   * Starts `count` workers and loads the model in each, as the page does:
   * the first downloads (or reads the cache), then the others read the
   * cache side by side. The time counts from the first worker's creation to
   * the last `Ready`: the workers' wasm starting, the download (or Cache
   * Storage read) and the weights, as a user waits for them.
   */
  static async load(count = 1) {
    const start = performance.now();
    const startWorker = async () => {
      const worker = new Worker('/prefab-worker_loader.js');
      await new Promise((resolve, reject) => {
        const listen = (event) => {
          const message = JSON.parse(event.data);
          if (message.type === 'Started') {
            worker.removeEventListener('message', listen);
            resolve();
          }
        };
        worker.addEventListener('message', listen);
        worker.addEventListener('error', (event) => reject(new Error(`the worker did not start: ${event.message}`)));
      });
      return worker;
    };
    const engine = new PrefabEngine([await startWorker()]);
    const load = { type: 'Load', source: { kind: 'url', url: MODEL_URL } };
    const ready = await engine.request(load, 'Ready', 0);
    if (count > 1) {
      const more = await Promise.all(Array.from({ length: count - 1 }, startWorker));
      engine.workers.push(...more);
      engine.inFlight.push(...more.map(() => 0));
      await Promise.all(more.map((_, i) => engine.request(load, 'Ready', i + 1)));
    }
    return { engine, seconds: secondsSince(start), detail: { threads: 1, workers: count, model: ready.model.name } };
  }

  /**
   * Sends one request and resolves with its last answer, the one of type
   * `last`; rejects with the worker's own words on `Failed` or `Error`. It
   * goes to worker `to`, or to the one with the fewest requests in flight
   * (as the page sends them).
   */
  request(body, last, to) {
    const id = this.nextId++;
    const index = to ?? this.inFlight.indexOf(Math.min(...this.inFlight));
    const worker = this.workers[index];
    this.inFlight[index] += 1;
    return new Promise((resolve, reject) => {
      const listen = (event) => {
        const message = JSON.parse(event.data);
        if (message.id !== id && message.type !== 'Error') return;
        if (message.type === last || message.type === 'Failed' || message.type === 'Error') {
          worker.removeEventListener('message', listen);
          this.inFlight[index] -= 1;
          if (message.type === last) resolve(message);
          else reject(new Error(`Prefab worker: ${message.type} ${message.kind ?? ''}: ${message.message}`));
        }
      };
      worker.addEventListener('message', listen);
      worker.postMessage(JSON.stringify({ ...body, id }));
    });
  }

  async generate() {
    const start = performance.now();
    const done = await this.request(
      {
        type: 'Generate',
        messages: CONVERSATION,
        // As wllama's `cache_prompt: false` below: the worker keeps the last
        // run's cache, and the next prefill would read one token of the 300.
        params: { temperature: 0, max_new_tokens: NEW_TOKENS, ignore_eos: true, repetition_penalty: 1.0, cache_prompt: false },
      },
      'Done',
    );
    const stats = done.stats;
    if (stats.cached_prompt_tokens !== 0) {
      throw new Error(`Prefab reused ${stats.cached_prompt_tokens} cached prompt tokens; the prefill figure would be wrong`);
    }
    return {
      promptTokens: stats.prompt_tokens,
      generatedTokens: stats.generated_tokens,
      prefillTokensPerSecond: stats.prefill_tokens_per_second,
      decodeTokensPerSecond: stats.decode_tokens_per_second,
      wallSeconds: secondsSince(start),
      text: done.text,
    };
  }

  poolJob(job) {
    return poolJob(this, job);
  }

  /** Each worker's wasm memory: it never shrinks, so this is its peak. */
  async memoryBytes() {
    const pongs = await Promise.all(this.workers.map((_, i) => this.request({ type: 'Ping' }, 'Pong', i)));
    return pongs.map((pong) => pong.memory_bytes);
  }

  close() {
    for (const worker of this.workers) worker.terminate();
  }
}

/**
 * wllama 3 (llama.cpp's server context in wasm), on the CPU, on `threads`
 * threads: 1, or every core the browser reports.
 *
 * wllama 3.8.1 ships one wasm for both: `n_threads` above 1 starts a pthread
 * pool in its worker when the page is cross-origin isolated (this one is),
 * and 1 runs it single-threaded; the old `single-thread/…` and
 * `multi-thread/…` path keys are deprecated and ignored.
 *
 * Its v3 API has no token-level `decode` any more (it was removed with the
 * move to llama-server's code), so a generation is one chat completion, and
 * the figures are llama.cpp's own `timings`, measured in its worker the way
 * `llama-server` reports them.
 */
class WllamaEngine {
  constructor(wllama, workers) {
    this.wllama = wllama;
    /** The probed workers made while it loaded: its own. */
    this.workers = workers;
  }

  static async load(threads) {
    const start = performance.now();
    const firstWorker = probedWorkers;
    const wllama = new Wllama(
      { default: '/bench/node_modules/@wllama/wllama/esm/wasm/wllama.wasm' },
      // llama.cpp's load log is long; keep its warnings and errors only.
      { logger: { debug() {}, log() {}, warn: console.warn, error: console.error } },
    );
    // On a browser without JSPI or Memory64, wllama would fetch a slower
    // "compat" build from a CDN; this one has both, and a CDN is never
    // reached from a benchmark: fail instead.
    wllama.setCompat(null);
    await wllama.loadModelFromUrl(MODEL_URL, {
      // Said outright: wllama's default is hardwareConcurrency / 2.
      n_threads: threads,
      // No WebGPU: the comparison is CPU wasm against CPU wasm.
      n_gpu_layers: 0,
      n_ctx: 1024,
    });
    if (wllama.getNumThreads() !== threads || wllama.isMultithread() !== threads > 1) {
      const message = `wllama runs ${wllama.getNumThreads()} threads (multithread: ${wllama.isMultithread()}); asked for ${threads}`;
      await wllama.exit();
      throw new Error(message);
    }
    const workers = Array.from({ length: probedWorkers - firstWorker }, (_, i) => firstWorker + i);
    return {
      engine: new WllamaEngine(wllama, workers),
      seconds: secondsSince(start),
      detail: { threads: wllama.getNumThreads(), workers: 1, libllama: Wllama.getLibllamaVersion() },
    };
  }

  async generate() {
    const start = performance.now();
    const response = await this.wllama.createChatCompletion({
      messages: CONVERSATION,
      max_tokens: NEW_TOKENS,
      temperature: 0,
      ignore_eos: true,
      // Without this the server context keeps the previous run's KV cache
      // and the next run's prefill reads only the tokens that differ: none.
      cache_prompt: false,
    });
    const timings = response.timings;
    if (!timings) throw new Error('wllama returned no timings');
    if (timings.cache_n !== 0 || timings.prompt_n !== response.usage.prompt_tokens) {
      throw new Error(`wllama reused ${timings.cache_n} cached prompt tokens; the prefill figure would be wrong`);
    }
    return {
      promptTokens: timings.prompt_n,
      generatedTokens: timings.predicted_n,
      prefillTokensPerSecond: timings.prompt_per_second,
      // llama-server's predicted_per_second divides all n tokens by the time
      // from the first sampled token to the last, which holds n - 1 model
      // passes (the first token comes from the prefill's logits). Prefab
      // counts the tokens after the first, so the same is done here.
      decodeTokensPerSecond: (timings.predicted_n - 1) / (timings.predicted_ms / 1000),
      wallSeconds: secondsSince(start),
      text: response.choices[0].message.content,
    };
  }

  /**
   * wllama's side of the pool job: one chat completion after another (its
   * API runs one sequence at a time), the same sampling and seeds as
   * Prefab's, EOS ignored. llama-server's `cache_prompt` is left at its
   * default: a sample may reuse the prompt its previous sample read, which
   * is what wllama gives a user running a pool. The same time budget as
   * Prefab's `poolJob`.
   */
  poolJob(job) {
    return eachPoolSample(job, 1, async (messages, seed) => {
      const response = await this.wllama.createChatCompletion({
        messages,
        max_tokens: job.newTokens,
        temperature: job.temperature,
        top_p: job.topP,
        top_k: POOL_TOP_K,
        repeat_penalty: 1.0,
        seed,
        ignore_eos: true,
      });
      return { tokens: response.usage.completion_tokens, text: response.choices[0].message.content };
    });
  }

  /** The wasm memory of wllama's worker, through the probe above: its peak. */
  memoryBytes() {
    return probedWasmMemoryBytes(this.workers);
  }

  close() {
    return this.wllama.exit();
  }
}

/** Every core the browser reports: the "all threads" engines' thread count. */
const CORES = navigator.hardwareConcurrency || 1;

/**
 * How many engine workers the page runs the model in: one per core, at most
 * 4 (`engine_count` in crates/llm/src/model_info.rs; the test model is far
 * below its memory budget).
 */
const PREFAB_ENGINES = Math.min(CORES, 4);

const ENGINES = {
  prefab: () => PrefabEngine.load(1),
  'prefab-mt': () => PrefabEngine.load(PREFAB_ENGINES),
  wllama: () => WllamaEngine.load(1),
  'wllama-mt': () => WllamaEngine.load(CORES),
};
const loaded = {};

window.bench = {
  prompt: PROMPT,
  newTokens: NEW_TOKENS,
  cores: CORES,
  prefabEngines: PREFAB_ENGINES,
  prefabInFlight: PREFAB_IN_FLIGHT,
  /** Loads an engine (closing a loaded one of the same name first). */
  async load(name) {
    await loaded[name]?.close();
    delete loaded[name];
    const { engine, seconds, detail } = await ENGINES[name]();
    loaded[name] = engine;
    return { seconds, detail };
  },
  generate: (name) => loaded[name].generate(),
  /** The pool job (see `poolJob`) on a loaded engine. */
  poolJob: (name, job) => loaded[name].poolJob(job),
  /** The logit judge's job (see `judgeJob`) on a loaded Prefab engine. */
  judgeJob: (name, job) => judgeJob(loaded[name], job),
  /** Every worker's first judge pass (see `judgeWarmUp`). */
  judgeWarmUp: (name, job) => judgeWarmUp(loaded[name], job),
  /** Each of the engine's workers' peak wasm memory, in bytes. */
  memoryBytes: (name) => loaded[name].memoryBytes(),
  /**
   * One request to the loaded Prefab worker, timed from here: resolves with
   * its last answer (of type `last`) and the wall seconds it took. The judge
   * benchmark (../judge_bench.mjs) sends the page's own judge requests.
   */
  async prefabRequest(body, last) {
    const start = performance.now();
    const answer = await loaded.prefab.request(body, last);
    return { answer, seconds: secondsSince(start) };
  },
};
window.benchReady = true;

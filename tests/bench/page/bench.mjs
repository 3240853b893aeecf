// The model benchmark's two engines, side by side in one page: Prefab's model
// worker and wllama (llama.cpp compiled to wasm), on the same GGUF file, the
// same conversation and the same settings (greedy, 64 new tokens, EOS ignored).
//
// The page only measures; ../model_bench.mjs decides the order of the runs and
// prints the table. Each engine is a small class with the same four methods,
// `load`, `generate`, `memoryBytes` and `close`, put on `window.bench` for the
// driver to call through Playwright.
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
channel.onmessage = () => {
  const bytes = memories.map((memory) => Number(memory.buffer.byteLength));
  if (bytes.length > 0) channel.postMessage(Math.max(...bytes));
};
`;
{
  const probe = URL.createObjectURL(new Blob([MEMORY_PROBE], { type: 'text/javascript' }));
  const PageWorker = window.Worker;
  window.Worker = class extends PageWorker {
    constructor(url, options) {
      if (options?.type === 'module' && String(url).startsWith('blob:')) {
        // Static imports run in order, both before anything can message the
        // worker, so the probe is in place before wllama's code starts.
        const both = `import ${JSON.stringify(probe)};\nimport ${JSON.stringify(String(url))};\n`;
        url = URL.createObjectURL(new Blob([both], { type: 'text/javascript' }));
      }
      super(url, options);
    }
  };
}

/** The wasm memory sizes the probed workers report within a second. */
async function probedWasmMemoryBytes() {
  const channel = new BroadcastChannel(MEMORY_CHANNEL);
  const sizes = [];
  channel.onmessage = (event) => sizes.push(event.data);
  channel.postMessage('size?');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  channel.close();
  return sizes.length > 0 ? Math.max(...sizes) : null;
}

/** Seconds since `start` (a `performance.now()` reading). */
const secondsSince = (start) => (performance.now() - start) / 1000;

/**
 * Prefab's model worker, spoken to in its JSON protocol
 * (crates/llm/src/protocol.rs): `Load` → `Progress`* → `Ready`,
 * `Generate` → `Token`* → `Done`, `Ping` → `Pong`; any of them may end in
 * `Failed`.
 */
class PrefabEngine {
  name = 'Prefab';

  constructor(worker) {
    this.worker = worker;
    this.nextId = 1;
  }

  /**
   * Starts a worker and loads the model in it. The time counts from the
   * worker's creation to `Ready`: the worker's wasm starting, the download
   * (or Cache Storage read) and the weights, as a user waits for them.
   */
  static async load() {
    const start = performance.now();
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
    const engine = new PrefabEngine(worker);
    const ready = await engine.request({ type: 'Load', source: { kind: 'url', url: MODEL_URL } }, 'Ready');
    return { engine, seconds: secondsSince(start), detail: ready.model };
  }

  /**
   * Sends one request and resolves with its last answer, the one of type
   * `last`; rejects with the worker's own words on `Failed` or `Error`.
   */
  request(body, last) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const listen = (event) => {
        const message = JSON.parse(event.data);
        if (message.id !== id && message.type !== 'Error') return;
        if (message.type === last || message.type === 'Failed' || message.type === 'Error') {
          this.worker.removeEventListener('message', listen);
          if (message.type === last) resolve(message);
          else reject(new Error(`Prefab worker: ${message.type} ${message.kind ?? ''}: ${message.message}`));
        }
      };
      this.worker.addEventListener('message', listen);
      this.worker.postMessage(JSON.stringify({ ...body, id }));
    });
  }

  async generate() {
    const start = performance.now();
    const done = await this.request(
      {
        type: 'Generate',
        messages: CONVERSATION,
        params: { temperature: 0, max_new_tokens: NEW_TOKENS, ignore_eos: true, repetition_penalty: 1.0 },
      },
      'Done',
    );
    const stats = done.stats;
    return {
      promptTokens: stats.prompt_tokens,
      generatedTokens: stats.generated_tokens,
      prefillTokensPerSecond: stats.prefill_tokens_per_second,
      decodeTokensPerSecond: stats.decode_tokens_per_second,
      wallSeconds: secondsSince(start),
      text: done.text,
    };
  }

  /** The worker's wasm memory: it never shrinks, so this is its peak. */
  async memoryBytes() {
    const pong = await this.request({ type: 'Ping' }, 'Pong');
    return pong.memory_bytes;
  }

  close() {
    this.worker.terminate();
  }
}

/**
 * wllama 3 (llama.cpp's server context in wasm), on one thread and the CPU.
 *
 * Its v3 API has no token-level `decode` any more (it was removed with the
 * move to llama-server's code), so a generation is one chat completion, and
 * the figures are llama.cpp's own `timings`, measured in its worker the way
 * `llama-server` reports them.
 */
class WllamaEngine {
  name = 'wllama';

  constructor(wllama) {
    this.wllama = wllama;
  }

  static async load() {
    const start = performance.now();
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
      // One thread: the page is cross-origin isolated, so wllama would
      // otherwise start a pthread pool of hardwareConcurrency / 2.
      n_threads: 1,
      // No WebGPU: the comparison is CPU wasm against CPU wasm.
      n_gpu_layers: 0,
      n_ctx: 1024,
    });
    if (wllama.isMultithread() || wllama.getNumThreads() !== 1) {
      throw new Error(`wllama runs ${wllama.getNumThreads()} threads; the benchmark needs 1`);
    }
    return {
      engine: new WllamaEngine(wllama),
      seconds: secondsSince(start),
      detail: { threads: wllama.getNumThreads(), libllama: Wllama.getLibllamaVersion() },
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

  /** The wasm memory of wllama's worker, through the probe above: its peak. */
  memoryBytes() {
    return probedWasmMemoryBytes();
  }

  close() {
    return this.wllama.exit();
  }
}

const ENGINES = { prefab: PrefabEngine, wllama: WllamaEngine };
const loaded = {};

window.bench = {
  prompt: PROMPT,
  newTokens: NEW_TOKENS,
  /** Loads an engine (closing a loaded one of the same name first). */
  async load(name) {
    await loaded[name]?.close();
    const { engine, seconds, detail } = await ENGINES[name].load();
    loaded[name] = engine;
    return { seconds, detail };
  },
  generate: (name) => loaded[name].generate(),
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

// The model worker on its own, spoken to through its protocol: the real
// worker build, the real test model, in headless Chromium. Broken files and
// bad requests must get typed failures while the worker keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrl, modelFile, openBrowser, collectErrors } from './browser.mjs';

let browser;
let page;
let errors;

before(async () => {
  browser = await openBrowser();
  page = await browser.context.newPage();
  errors = collectErrors(page);
  await page.goto(baseUrl);
  // A worker of our own next to the page's, with a promise per request that
  // resolves with every answer to it once the last one arrives.
  await page.evaluate(() => {
    const worker = new Worker('./prefab-worker_loader.js');
    const waiting = new Map();
    const unrequested = [];
    const last = new Set(['Ready', 'Done', 'Scores', 'Failed', 'Pong']);
    window.modelWorker = {
      started: new Promise((resolve) => {
        worker.onmessage = (event) => {
          const answer = JSON.parse(event.data);
          if (answer.type === 'Started') return resolve(answer);
          const entry = answer.id == null ? undefined : waiting.get(answer.id);
          if (!entry) return unrequested.push(answer);
          entry.answers.push(answer);
          entry.onAnswer?.(answer);
          if (last.has(answer.type)) {
            waiting.delete(answer.id);
            entry.resolve(entry.answers);
          }
        };
      }),
      unrequested,
      request(message, file, onAnswer) {
        return new Promise((resolve) => {
          waiting.set(message.id, { answers: [], resolve, onAnswer });
          if (file) worker.postMessage([JSON.stringify(message), file]);
          else worker.postMessage(JSON.stringify(message));
        });
      },
      postRaw(data) {
        worker.postMessage(data);
      },
    };
  });
  await page.evaluate(() => window.modelWorker.started);
});

after(async () => {
  await browser?.close();
});

/** Sends a request and returns all its answers, the last one last. */
function request(message) {
  return page.evaluate((message) => window.modelWorker.request(message), message);
}

/** Loads bytes made in the page as if the person had picked a file. */
function loadBytes(id, name, makeBytes) {
  return page.evaluate(
    async ({ id, name, makeBytes }) => {
      const bytes = await new Function(`return (${makeBytes})()`)();
      return window.modelWorker.request({ id, type: 'Load', source: { kind: 'file', name } }, new File([bytes], name));
    },
    { id, name, makeBytes: makeBytes.toString() },
  );
}

const modelUrl = () => new URL(`models/${modelFile}`, baseUrl).href;
const finalAnswer = (answers) => answers[answers.length - 1];

test('bad input gets typed failures and the worker keeps serving', async () => {
  page.evaluate(() => window.modelWorker.postRaw('{"type":"Dance","id":1}'));
  await page.waitForFunction(() => window.modelWorker.unrequested.length > 0);
  const unreadable = await page.evaluate(() => window.modelWorker.unrequested.shift());
  assert.equal(unreadable.type, 'Error');
  assert.match(unreadable.message, /unknown variant `Dance`/);

  const noModel = finalAnswer(await request({ type: 'Generate', id: 2, messages: [{ role: 'user', content: 'Hi' }] }));
  assert.deepEqual([noModel.type, noModel.kind], ['Failed', 'no_model_loaded']);

  const notGguf = finalAnswer(
    await loadBytes(3, 'notes.txt', () => new TextEncoder().encode('these are my notes, not a model')),
  );
  assert.deepEqual([notGguf.type, notGguf.kind], ['Failed', 'not_gguf']);
  assert.match(notGguf.message, /notes\.txt/);

  // The real file cut after its first megabyte: the header and metadata
  // read, the tensors missing.
  const truncated = finalAnswer(
    await page.evaluate(async (url) => {
      const cut = (await (await fetch(url)).blob()).slice(0, 1 << 20);
      return window.modelWorker.request({ id: 4, type: 'Load', source: { kind: 'file', name: 'cut.gguf' } }, new File([cut], 'cut.gguf'));
    }, modelUrl()),
  );
  assert.deepEqual([truncated.type, truncated.kind], ['Failed', 'truncated']);
  assert.match(truncated.message, /cut\.gguf/);

  const missing = finalAnswer(await request({ type: 'Load', id: 5, source: { kind: 'url', url: new URL('models/absent.gguf', baseUrl).href } }));
  assert.deepEqual([missing.type, missing.kind], ['Failed', 'download']);
  assert.match(missing.message, /absent\.gguf.*404/);

  const pong = finalAnswer(await request({ type: 'Ping', id: 6 }));
  assert.equal(pong.type, 'Pong');
});

test('the real model loads from its URL with progress, generates, scores and cancels', async () => {
  const loaded = await request({ type: 'Load', id: 10, source: { kind: 'url', url: modelUrl() }, options: { max_context: 1024 } });
  const ready = finalAnswer(loaded);
  assert.equal(ready.type, 'Ready', JSON.stringify(ready));
  assert.equal(ready.model.architecture, 'llama');
  assert.equal(ready.model.context_length, 1024);
  assert.ok(ready.model.requantized_tensors > 0, 'Q4_1 weights are re-quantized to Q8_0 by default');
  const downloads = loaded.filter((a) => a.type === 'Progress' && a.stage === 'download');
  assert.ok(downloads.length >= 2, `download progress was reported: ${downloads.length} reports`);
  assert.equal(downloads.at(-1).done, ready.model.file_bytes);
  assert.equal(downloads.at(-1).total, ready.model.file_bytes);
  assert.ok(loaded.some((a) => a.type === 'Progress' && a.stage === 'weights'));
  // The file went to the cache and came to the engine a tensor at a time:
  // the worker's memory (which never shrinks) never held it whole next to
  // the weights.
  const loadedMemory = finalAnswer(await request({ type: 'Ping', id: 19 })).memory_bytes;
  assert.ok(
    loadedMemory < ready.model.weights_bytes + ready.model.file_bytes,
    `wasm memory ${loadedMemory} < weights ${ready.model.weights_bytes} + file ${ready.model.file_bytes}`,
  );

  // Greedy generation: the streamed pieces add up to the final text, and the
  // same request gives the same text again.
  const greedy = { temperature: 0, max_new_tokens: 24, repetition_penalty: 1 };
  const messages = [{ role: 'user', content: 'Write a haiku about mountains.' }];
  const first = await request({ type: 'Generate', id: 11, messages, params: greedy });
  const done = finalAnswer(first);
  assert.equal(done.type, 'Done', JSON.stringify(done));
  assert.ok(done.text.trim().length > 0);
  const streamed = first.filter((a) => a.type === 'Token').map((a) => a.text).join('');
  assert.equal(streamed, done.text);
  assert.ok(done.stats.prompt_tokens > 10);
  assert.ok(done.stats.decode_tokens_per_second > 0);
  const again = finalAnswer(await request({ type: 'Generate', id: 12, messages, params: greedy }));
  assert.equal(again.text, done.text);

  // The judge: one probability per candidate, all finite, adding up to at most 1.
  const scores = finalAnswer(
    await request({
      type: 'Score',
      id: 13,
      prompt: {
        kind: 'chat',
        messages: [{ role: 'user', content: 'Rate from 1 to 5 how correct this is: "2 + 2 = 4". Answer with one digit.' }],
        answer_prefix: '',
      },
      candidates: ['1', '2', '3', '4', '5'],
    }),
  );
  assert.equal(scores.type, 'Scores', JSON.stringify(scores));
  assert.equal(scores.probs.length, 5);
  for (const p of scores.probs) assert.ok(Number.isFinite(p) && p >= 0 && p <= 1, `probability ${p}`);
  const sum = scores.probs.reduce((a, b) => a + b, 0);
  assert.ok(sum > 0 && sum <= 1 + 1e-6, `sum ${sum}`);

  const twoTokens = finalAnswer(await request({ type: 'Score', id: 14, prompt: { kind: 'text', text: 'x' }, candidates: ['10', 'hello world'] }));
  assert.deepEqual([twoTokens.type, twoTokens.kind], ['Failed', 'invalid_candidates']);

  // Cancel after the first token of a long generation: it ends early, as
  // cancelled, and the worker serves the next request.
  const cancelled = await page.evaluate(
    (messages) =>
      window.modelWorker.request(
        { type: 'Generate', id: 15, messages, params: { max_new_tokens: 500, ignore_eos: true } },
        undefined,
        (answer) => {
          if (answer.type === 'Token') window.modelWorker.postRaw(JSON.stringify({ type: 'Cancel', id: 15 }));
        },
      ),
    messages,
  );
  const stopped = finalAnswer(cancelled);
  assert.equal(stopped.type, 'Done');
  assert.equal(stopped.stats.stop_reason, 'cancelled');
  assert.ok(stopped.stats.generated_tokens < 500, `${stopped.stats.generated_tokens} tokens`);

  // A prompt longer than the context is refused with its length.
  const long = finalAnswer(
    await request({ type: 'Generate', id: 16, messages: [{ role: 'user', content: 'mountain '.repeat(1500) }] }),
  );
  assert.deepEqual([long.type, long.kind], ['Failed', 'prompt_too_long']);
  assert.match(long.message, /1024/);

  // Generations in flight at once decode together: each gives what it gives
  // alone, one cancelled mid-way ends alone, and a Score asked meanwhile is
  // answered between two tokens.
  const sampled = (seed) => ({ temperature: 0.8, seed, max_new_tokens: 16, repetition_penalty: 1 });
  const together = await page.evaluate(
    ({ messages, greedy, sampled }) => {
      const worker = window.modelWorker;
      const asked = [
        worker.request({ type: 'Generate', id: 20, messages, params: greedy }),
        worker.request({ type: 'Generate', id: 21, messages, params: sampled[0] }),
        worker.request({ type: 'Generate', id: 22, messages, params: { max_new_tokens: 500, ignore_eos: true } }, undefined, (answer) => {
          if (answer.type === 'Token') worker.postRaw(JSON.stringify({ type: 'Cancel', id: 22 }));
        }),
        worker.request({ type: 'Generate', id: 23, messages, params: sampled[1] }),
        worker.request({ type: 'Score', id: 24, prompt: { kind: 'text', text: 'x' }, candidates: ['1', '2'] }),
      ];
      return Promise.all(asked);
    },
    { messages, greedy, sampled: [sampled(1), sampled(2)] },
  );
  const [batchedGreedy, batchedFirst, batchedCancelled, batchedSecond, batchedScore] = together.map(finalAnswer);
  assert.equal(batchedGreedy.text, done.text, 'greedy text alone and batched');
  assert.equal(batchedCancelled.stats.stop_reason, 'cancelled');
  assert.equal(batchedScore.type, 'Scores');
  for (const [batched, params] of [[batchedFirst, sampled(1)], [batchedSecond, sampled(2)]]) {
    const alone = finalAnswer(await request({ type: 'Generate', id: 30 + params.seed, messages, params }));
    assert.equal(batched.text, alone.text, `seed ${params.seed}: alone and batched`);
    assert.equal(together.find((answers) => finalAnswer(answers) === batched).filter((a) => a.type === 'Token').map((a) => a.text).join(''), batched.text);
  }
  assert.notEqual(batchedFirst.text, batchedSecond.text, 'two seeds, two samples');

  const pong = finalAnswer(await request({ type: 'Ping', id: 17 }));
  assert.ok(pong.memory_bytes > ready.model.weights_bytes, `wasm memory ${pong.memory_bytes} holds the weights`);

  // The next load of the same URL reads the browser's cache.
  const reloaded = await request({ type: 'Load', id: 18, source: { kind: 'url', url: modelUrl() } });
  assert.equal(finalAnswer(reloaded).type, 'Ready');
  assert.ok(reloaded.some((a) => a.type === 'Progress' && a.stage === 'cache'), 'read from the cache');
  assert.ok(!reloaded.some((a) => a.type === 'Progress' && a.stage === 'download'), 'not downloaded again');

  assert.deepEqual(errors, []);
});

test('a model the cache cannot keep still loads, and the cache keeps nothing of it', async () => {
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(baseUrl).origin;
  // A full disk, as the browser sees it: 1 MB for the whole origin.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 << 20 });
  try {
    const url = `${modelUrl()}?uncached=1`;
    const loaded = await request({ type: 'Load', id: 40, source: { kind: 'url', url } });
    const ready = finalAnswer(loaded);
    assert.equal(ready.type, 'Ready', JSON.stringify(ready));
    assert.ok(loaded.some((a) => a.type === 'Progress' && a.stage === 'download'));
    const cached = await page.evaluate(async (url) => (await (await caches.open('prefab-models-v1')).match(url)) !== undefined, url);
    assert.equal(cached, false, 'nothing kept');
    const generated = finalAnswer(await request({ type: 'Generate', id: 41, messages: [{ role: 'user', content: 'Hi' }], params: { max_new_tokens: 4 } }));
    assert.equal(generated.type, 'Done');
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  }
  // The cache said why in the console, a warning; nothing failed.
  assert.deepEqual(errors, []);
});

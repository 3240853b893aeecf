// A campaign, as a room of people runs one, against the local Hub: the
// organizer publishes 50 prompts × 2 completions (A vs B, 3 people per item)
// and gets a link; five contributors, each in their own browser context (two
// on a 375 px phone, tapping), rate in parallel — one before signing in, one
// going offline and reloading while the Hub is out of reach, one whose
// uploads meet a storm of 500s and 429s — and a sixth forges a file under
// another's name. Collect must hold every rating exactly once, equal to what
// was pressed, and reject the forgery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { baseUrl, openBrowser, launchBrowser, collectErrors, importCompletions, screenshot } from './browser.mjs';
import { hubUrl, faults, signIn, signedInAs, tokenOnlyInSessionStorage } from './hub_helpers.mjs';

const REPO = 'prefab-test/e2e-campaign';
const PROMPTS = 50;
const VERDICTS = ['a', 'b', 'tie', 'both_bad'];
const LABELS = [/^A is better/, /^B is better/, /^Tie/, /^Both bad/];

/** The answer a person gives to a pair: fixed by who they are and the pair, so it can be checked. */
function choice(name, a, b) {
  let hash = 0;
  for (const char of `${name}|${a}|${b}`) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 4;
}

/** Rates the item on screen by keyboard or by tap, waits until it is stored, and notes what was pressed. */
async function rateOne(page, name, tap, pressed) {
  const progress = page.getByTestId('rating-progress');
  const before = Number((await progress.textContent()).split(' ')[0]);
  const a = await page.getByTestId('completion-a').getAttribute('data-generation');
  const b = await page.getByTestId('completion-b').getAttribute('data-generation');
  const verdict = choice(name, a, b);
  if (tap) {
    await page.getByRole('button', { name: LABELS[verdict] }).tap();
    await page.getByTestId('submit').tap();
  } else {
    await page.keyboard.press(String(verdict + 1));
    await page.keyboard.press('Enter');
  }
  await page.waitForFunction((count) => document.querySelector('[data-testid="rating-progress"]')?.textContent.startsWith(`${count} of`), before + 1);
  pressed.push({ annotator: name, a, b, verdict: VERDICTS[verdict] });
}

async function rate(page, name, tap, pressed, count) {
  for (let i = 0; i < count; i += 1) await rateOne(page, name, tap, pressed);
}

/** Waits until the status line says nothing waits and `count` are uploaded. */
const allUploaded = (page, count) =>
  page.waitForFunction(
    (count) => document.querySelector('[data-testid="campaign-status"]')?.textContent.startsWith(`${count} saved on this device · 0 waiting · ${count} uploaded`),
    count,
    { timeout: 120_000 },
  );

async function statusSays(page, text) {
  try {
    await page.waitForFunction((text) => document.querySelector('[data-testid="campaign-status"]')?.textContent.includes(text), text, { timeout: 30_000 });
  } catch (error) {
    const now = await page.getByTestId('campaign-status').textContent().catch(() => 'no status line');
    throw new Error(`the status line never said "${text}"; it says "${now}" (online: ${await page.evaluate(() => navigator.onLine)})`, { cause: error });
  }
}

async function openLink(page, link) {
  await page.goto(link);
  await page.getByTestId('campaign-title').waitFor();
  await page.getByTestId('task').waitFor();
}

test('a campaign: publish, five people rate in parallel, collect every rating exactly once', { timeout: 600_000 }, async (t) => {
  const organizer = await openBrowser();
  // One browser per person, as in a room (contexts of one browser sometimes
  // left a page's first request unanswered when several loaded at once).
  const browsers = [];
  t.after(async () => {
    await faults([]);
    for (const browser of browsers) await browser.close();
    await organizer.close();
  });

  // The organizer: completions in, signed in, the campaign out.
  const page = await organizer.context.newPage();
  const errors = collectErrors(page);
  const rows = [];
  for (let i = 0; i < PROMPTS; i += 1) {
    rows.push({ prompt: `Question ${i}: name a colour.`, completion: `Blue ${i}.`, model: 'm1' });
    rows.push({ prompt: `Question ${i}: name a colour.`, completion: `Red, I think (${i}).`, model: 'm2' });
  }
  await signIn(page, 'organizer');
  await signedInAs(page, 'organizer');
  await importCompletions(page, 'campaign.jsonl', rows);
  await page.getByTestId('campaign-mode').selectOption('pairwise');
  await page.getByTestId('campaign-repo').fill(REPO);
  await page.getByTestId('campaign-name').fill('Colours');
  await page.getByTestId('campaign-overlap').fill('3');
  await page.getByTestId('campaign-publish-button').click();
  await page.getByTestId('campaign-published').waitFor({ timeout: 60_000 });
  const link = await page.getByTestId('campaign-link').inputValue();
  assert.ok(link.startsWith(baseUrl) && link.includes(`#/contribute?campaign=${REPO}`), link);
  assert.ok(link.includes(`hub=${encodeURIComponent(hubUrl)}`), `the link names the local Hub: ${link}`);
  assert.ok((await page.getByTestId('campaign-qr').locator('path').getAttribute('d')).length > 100, 'a QR code is drawn');
  await screenshot(page, 'campaign-published');

  const pressed = [];
  const contexts = [];
  async function person(name, { phone = false } = {}) {
    const browser = await launchBrowser();
    browsers.push(browser);
    const context = await browser.newContext(phone ? { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 800 } });
    // Five pages load and compile the app at once on a small machine.
    context.setDefaultTimeout(90_000);
    contexts.push(context);
    const page = await context.newPage();
    // What the page asked for and never got, to say where a stall is.
    const pending = new Map();
    page.on('request', (request) => pending.set(request, request.url()));
    page.on('requestfinished', (request) => pending.delete(request));
    page.on('requestfailed', (request) => pending.delete(request));
    return { name, context, page, pending, errors: collectErrors(page), tap: phone };
  }
  const [alice, bob, carol, dave, erin] = await Promise.all([
    person('alice'),
    person('bob', { phone: true }),
    person('carol'),
    person('dave', { phone: true }),
    person('erin'),
  ]);

  // Dave's uploads meet a storm: 500s and 429s (with Retry-After) on every Hub call he makes.
  await faults([
    { path_contains: '/api/datasets/', status: 500, times: 5, user: 'dave' },
    { path_contains: '/api/datasets/', status: 429, retry_after: '1', times: 5, user: 'dave' },
  ]);

  const everyone = [alice, bob, carol, dave, erin];
  // People arrive one after the other, as in a room: each signs in (Bob
  // will later, when the page asks) and opens the link; then all rate at once.
  // (Several browsers opening their first connections at the same instant can
  // meet a queueing flaw of the test server's HTTP library, tiny_http: a new
  // connection may wait behind kept-alive ones.)
  for (const person of everyone) {
    if (person !== bob) {
      await signIn(person.page, person.name);
      await signedInAs(person.page, person.name);
    }
    await openLink(person.page, link);
  }
  const signedInRating = (person, count) => rate(person.page, person.name, person.tap, pressed, count);
  await Promise.all([
    signedInRating(alice, 30),
    (async () => {
      // Bob rates at once and signs in when the page asks, to upload.
      await rate(bob.page, 'bob', true, pressed, 3);
      await statusSays(bob.page, 'sign in to upload them');
      await bob.page.getByTestId('campaign-sign-in').tap();
      await bob.page.waitForURL((url) => url.href.startsWith(`${hubUrl}/oauth/authorize`));
      await bob.page.locator('input[name="username"]').fill('bob');
      await bob.page.getByRole('button', { name: 'Authorize' }).tap();
      await bob.page.waitForURL((url) => url.href.startsWith(baseUrl) && url.hash.includes('campaign='));
      await bob.page.getByTestId('task').waitFor();
      await rate(bob.page, 'bob', true, pressed, 27);
    })(),
    (async () => {
      await signedInRating(carol, 12);
      // Offline half-way: ratings are kept and wait.
      await carol.context.setOffline(true);
      await rate(carol.page, 'carol', false, pressed, 5);
      await statusSays(carol.page, 'offline');
      // Back on the network but the Hub still out of reach: reload, rate more.
      await carol.context.route(`${hubUrl}/**`, (route) => route.abort('internetdisconnected'));
      await carol.context.setOffline(false);
      await carol.page.reload();
      await carol.page.getByTestId('task').waitFor();
      await rate(carol.page, 'carol', false, pressed, 5);
      await statusSays(carol.page, 'waiting');
      await carol.context.unroute(`${hubUrl}/**`);
      await rate(carol.page, 'carol', false, pressed, 8);
    })(),
    signedInRating(dave, 30),
    signedInRating(erin, 30),
  ]).catch(async (error) => {
    for (const each of everyone) console.log(`${each.name}: still waiting for ${[...each.pending.values()].join(', ') || 'nothing'}`);
    const started = Date.now();
    const probe = await fetch(baseUrl, { signal: AbortSignal.timeout(5_000) }).then((r) => `HTTP ${r.status}`, (e) => `${e}`);
    console.log(`the page's server, asked from outside the browser: ${probe} in ${Date.now() - started} ms`);
    throw error;
  });
  assert.equal(pressed.length, 150);
  for (const each of everyone) await allUploaded(each.page, 30);
  await screenshot(bob.page, 'campaign-contribute-phone');
  await tokenOnlyInSessionStorage(alice.page);
  for (const each of everyone) assert.deepEqual(each.errors.filter((e) => !e.includes('Failed to load resource') && !e.includes('net::ERR')), [], `${each.name}'s page had no errors`);

  // Mallory signs in and pushes a file claiming to be Alice's answers.
  const mallory = await person('mallory');
  await signIn(mallory.page, 'mallory');
  await signedInAs(mallory.page, 'mallory');
  const token = await mallory.page.evaluate(() => JSON.parse(sessionStorage.getItem('prefab.hub.session')).access_token);
  const auth = { Authorization: `Bearer ${token}` };
  const opened = await fetch(`${hubUrl}/api/datasets/${REPO}/discussions`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'mine', description: '', pullRequest: true }),
  }).then((response) => response.json());
  const forged = pressed.find((rating) => rating.annotator === 'alice');
  const line = JSON.stringify({ annotator: 'alice', question: 'Which answer is better?', value: { kind: 'pairwise', a: forged.a, b: forged.b, verdict: 'both_bad' }, created_at_ms: Date.now() + 60_000 });
  const revision = encodeURIComponent(`refs/pr/${opened.num}`);
  const head = await fetch(`${hubUrl}/api/datasets/${REPO}/revision/${revision}`, { headers: auth }).then((response) => response.json());
  const ndjson = [
    { key: 'header', value: { summary: 'forged', description: '', parentCommit: head.sha } },
    { key: 'file', value: { path: 'contributions/mallory/forged.jsonl', content: Buffer.from(`${line}\n`).toString('base64'), encoding: 'base64' } },
  ].map((entry) => JSON.stringify(entry)).join('\n');
  const committed = await fetch(`${hubUrl}/api/datasets/${REPO}/commit/${revision}`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/x-ndjson' }, body: ndjson });
  assert.equal(committed.status, 200, await committed.text());

  // Collect: every rating once, the forgery rejected and reported.
  await page.goto(new URL(`#/export?campaign=${REPO}`, baseUrl).href);
  assert.equal(await page.getByTestId('collect-repo').inputValue(), REPO);
  await page.getByTestId('collect-button').click();
  await page.getByTestId('collect-summary').waitFor({ timeout: 60_000 });
  const summary = await page.getByTestId('collect-summary').textContent();
  assert.ok(summary.startsWith('150 ratings by 5 people'), summary);
  const rejected = await page.getByTestId('collect-rejected').textContent();
  assert.ok(rejected.includes('contributions/mallory/forged.jsonl') && rejected.includes('claims to be by "alice"'), rejected);
  const histogram = await page.getByTestId('collect-histogram').locator('tbody tr').evaluateAll((rows) => rows.map((row) => [...row.cells].map((cell) => Number(cell.textContent))));
  console.log(`coverage histogram (ratings → items): ${histogram.map(([ratings, items]) => `${ratings}→${items}`).join(', ')}`);
  assert.equal(histogram.reduce((sum, [ratings, items]) => sum + ratings * items, 0), 150);
  assert.ok((await page.getByTestId('collect-agreement').textContent()).includes("Krippendorff's α"));
  await screenshot(page, 'campaign-collect');

  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('collect-download-ratings').click()]);
  const got = (await readFile(await file.path(), 'utf8')).trim().split('\n').map((text) => JSON.parse(text));
  const key = (rating) => `${rating.annotator}|${rating.a}|${rating.b}|${rating.verdict}`;
  const exported = got.map((rating) => key({ annotator: rating.annotator, ...rating.value })).sort();
  assert.deepEqual(exported, pressed.map(key).sort(), 'the export holds exactly what was pressed, once each');

  // The merged dataset exports as DPO from the people's answers.
  await page.getByTestId('export-dpo').check();
  // The dataset and its card come as two downloads.
  const both = new Promise((resolve) => {
    const got = [];
    page.on('download', (download) => got.push(download) === 2 && resolve(got));
  });
  await page.getByTestId('export-download').click();
  const downloads = await both;
  const saved = Object.fromEntries(await Promise.all(downloads.map(async (download) => [download.suggestedFilename(), await readFile(await download.path(), 'utf8')])));
  const pairs = saved['dpo.jsonl'].trim().split('\n').filter(Boolean);
  assert.ok(pairs.length > 0 && pairs.length <= PROMPTS, `${pairs.length} DPO pairs`);
  assert.ok(saved['dpo.README.md'].includes(`Labels from the Prefab campaign ${REPO}: 5 people, 3 per item asked`), saved['dpo.README.md']);
  assert.deepEqual(errors.filter((e) => !e.includes('Failed to load resource')), []);
  for (const context of contexts) await context.close();
});

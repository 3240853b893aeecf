// The Hub from the page, against the local Hub that `cargo xtask test`
// starts (PREFAB_HUB_URL): sign in with the full OAuth PKCE round trip (and a
// wrong verifier refused), a 1,000-row Hub dataset read into Build through
// datasets-server's paging, errors named (no such dataset, gated, no viewer,
// rate-limited), KTO and DPO published as Parquet with the card and read back
// by `datasets.load_dataset`, a second publish that makes no commit, a
// publish without write access that opens a pull request, and each fault
// (429, 500, 412, 401, the server gone mid-upload) met with a clear message
// and a retry, losing nothing; the token is never in the URL, IndexedDB,
// localStorage or an export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { baseUrl, openBrowser, collectErrors, storedValues, screenshot, place } from './browser.mjs';
import { faults, signIn, signedInAs, tokenOnlyInSessionStorage, hubJson } from './hub_helpers.mjs';

const hubUrl = process.env.PREFAB_HUB_URL;
const hubPython = process.env.PREFAB_HUB_PYTHON;
const jsonl = (rows) => Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'));

test('sign in with PKCE; a wrong verifier is refused and the page keeps working', async (t) => {
  assert.ok(hubUrl, 'PREFAB_HUB_URL is set by cargo xtask test');
  const browser = await openBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);

  // A tampered verifier: the Hub must refuse the code, the page must say so.
  await page.route(`${hubUrl}/oauth/token`, async (route) => {
    const body = new URLSearchParams(route.request().postData());
    body.set('code_verifier', 'x'.repeat(43));
    await route.continue({ postData: body.toString() });
  });
  await signIn(page, 'organizer');
  await page.getByTestId('hub-problem').waitFor();
  assert.match(await page.getByTestId('hub-problem').textContent(), /did not work.*invalid_grant|code was not accepted/s);
  assert.ok(!page.url().includes('code='), 'the code left the address even though the sign-in failed');
  await page.unroute(`${hubUrl}/oauth/token`);

  // The real round trip.
  await signIn(page, 'organizer');
  await signedInAs(page, 'organizer');
  assert.equal(new URL(page.url()).hash, '#/settings', 'back where the sign-in began');
  const token = await tokenOnlyInSessionStorage(page);
  const whoami = await hubJson('/api/whoami-v2', token);
  assert.equal(whoami.body.name, 'organizer');
  // Sign out forgets it.
  await page.getByTestId('hub-sign-out').click();
  await page.getByTestId('hub-sign-in').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('prefab.hub.session')), null);
  assert.deepEqual(errors.filter((e) => !e.includes('400')), []);
});

test('on a Space the OAuth app comes from the Space; an expired session asks to sign in again', async (t) => {
  const browser = await openBrowser();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  // What a static Space with `hf_oauth: true` puts in every page.
  await page.addInitScript((hubUrl) => {
    window.huggingface = { variables: { OAUTH_CLIENT_ID: 'space-app-1', OAUTH_SCOPES: 'openid profile write-discussions', OPENID_PROVIDER_URL: hubUrl, SPACE_ID: 'prefab/prefab' } };
  }, hubUrl);
  await page.goto(place('settings'));
  await page.getByTestId('hub-settings').locator('summary').click();
  assert.equal(await page.getByTestId('hub-client-id').count(), 0, 'no client id to type on a Space');
  assert.equal(await page.getByTestId('hub-url').inputValue(), hubUrl, "the Space's provider is the Hub");
  await page.getByTestId('hub-sign-in').click();
  await page.waitForURL((url) => url.href.startsWith(`${hubUrl}/oauth/authorize`));
  const authorize = new URL(page.url());
  assert.equal(authorize.searchParams.get('client_id'), 'space-app-1');
  assert.equal(authorize.searchParams.get('scope'), 'openid profile write-discussions');
  await page.locator('input[name="username"]').fill('contributor');
  await page.getByRole('button', { name: 'Authorize' }).click();
  await page.waitForURL((url) => url.href.startsWith(baseUrl));
  await signedInAs(page, 'contributor');
  // The session's expiry passes: the page forgets it and offers to sign in again.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('prefab.hub.session'));
    session.expires_at_ms = Date.now() - 1000;
    sessionStorage.setItem('prefab.hub.session', JSON.stringify(session));
  });
  await page.reload();
  await page.getByTestId('hub-sign-in').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('prefab.hub.session')), null);
});

test('a 1,000-row Hub dataset comes into Build through paging; errors are named', async (t) => {
  const browser = await openBrowser();
  t.after(async () => {
    await faults([]);
    await browser.close();
  });
  const page = await browser.context.newPage();
  const rowsRequests = [];
  page.on('request', (request) => {
    if (request.url().includes('/datasets-server/rows')) rowsRequests.push(new URL(request.url()).searchParams);
  });
  await page.goto(place('settings'));
  await page.getByTestId('hub-settings').locator('summary').click();
  await page.getByTestId('hub-url').fill(hubUrl);
  await page.getByTestId('hub-url').press('Tab');
  await page.goto(place('build'));
  const picker = page.getByTestId('hub-picker');

  const lookUp = async (id) => {
    await picker.getByTestId('hub-dataset').fill(id);
    await picker.getByTestId('hub-look-up').click();
  };
  // No such dataset.
  await lookUp('prefab-test/does-not-exist');
  await picker.getByTestId('hub-error').waitFor();
  assert.match(await picker.getByTestId('hub-error').textContent(), /no dataset prefab-test\/does-not-exist/);
  // Not an id at all.
  await lookUp('not a dataset');
  assert.match(await picker.getByTestId('hub-error').textContent(), /is not a dataset id/);
  // Gated, not signed in with access: the link to accept.
  await lookUp('prefab-test/gated');
  await page.waitForFunction(() => /gated/.test(document.querySelector('[data-testid="hub-error"]')?.textContent));
  assert.match(await picker.getByTestId('hub-error').textContent(), new RegExp(`accept its conditions at ${hubUrl}/datasets/prefab-test/gated`));
  // No viewer.
  await lookUp('prefab-test/no-viewer');
  await page.waitForFunction(() => /no dataset viewer/.test(document.querySelector('[data-testid="hub-error"]')?.textContent));

  // The real one, with two 429s on the way: retried, and said so.
  await lookUp('prefab-test/prompts-1k');
  await picker.getByTestId('hub-split').waitFor();
  await faults([{ method: 'GET', path_contains: '/datasets-server/rows', status: 429, retry_after: '1', times: 2 }]);
  await picker.getByTestId('hub-preview').click();
  await page.waitForFunction(() => /too many requests/.test(document.querySelector('[data-testid="hub-status"]')?.textContent ?? ''));
  await page.getByTestId('prompt-preview').waitFor();
  assert.match(await page.getByTestId('prompts-note').textContent(), /1000 rows in prefab-test\/prompts-1k/);
  assert.equal(await page.getByTestId('prompt-column').locator('option:checked').textContent(), 'prompt');
  await page.getByTestId('use-file').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]')?.textContent === '1,000 prompts');
  const offsets = rowsRequests.filter((q) => q.get('dataset') === 'prefab-test/prompts-1k').map((q) => Number(q.get('offset')));
  assert.deepEqual([...new Set(offsets)].sort((a, b) => a - b), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  assert.ok(rowsRequests.every((q) => Number(q.get('length')) <= 100));
  // A big split (over 5,000 rows) is read from its Parquet files, not 100 rows at a time.
  await promisify(execFile)(hubPython, ['-c', `
import os, tempfile, pyarrow as pa, pyarrow.parquet as pq
from huggingface_hub import HfApi
api = HfApi()
api.create_repo("prefab-test/prompts-6k", repo_type="dataset", exist_ok=True)
path = os.path.join(tempfile.mkdtemp(), "train.parquet")
pq.write_table(pa.table({"prompt": [f"Big prompt {i}" for i in range(6000)]}), path)
api.upload_file(path_or_fileobj=path, path_in_repo="data/train-00000-of-00001.parquet", repo_id="prefab-test/prompts-6k", repo_type="dataset")
`], { env: { ...process.env, HF_ENDPOINT: hubUrl, HF_TOKEN: process.env.PREFAB_HUB_TOKEN, HF_HUB_DISABLE_XET: '1', HF_HUB_DISABLE_TELEMETRY: '1' }, timeout: 120_000 });
  const parquetRequests = [];
  page.on('request', (request) => {
    if (request.url().includes('/datasets-server/parquet')) parquetRequests.push(request.url());
  });
  rowsRequests.length = 0;
  await lookUp('prefab-test/prompts-6k');
  await picker.getByTestId('hub-split').waitFor();
  await picker.getByTestId('hub-preview').click();
  await page.waitForFunction(() => /6000 rows in prefab-test\/prompts-6k/.test(document.querySelector('[data-testid="prompts-note"]')?.textContent ?? ''));
  await page.getByTestId('use-file').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="prompt-count"]')?.textContent === '7,000 prompts');
  assert.equal(parquetRequests.length, 1, 'the Parquet file list was asked for once');
  assert.deepEqual(rowsRequests.map((q) => q.get('offset')), ['0'], 'only the preview page came through /rows');

  // Stored, all of them: the prompt list is a value of the settings store.
  const lists = (await storedValues(page, 'settings')).filter((value) => Array.isArray(value) && value[0]?.text !== undefined);
  const texts = new Set(lists.flat().map((prompt) => prompt.text));
  assert.equal(texts.size, 7000);
  assert.ok([...texts].some((text) => text.startsWith('Prompt number 999')), 'the last /rows page arrived');
  assert.ok(texts.has('Big prompt 5999'), 'the whole Parquet file arrived');
});

/** Imports completions and rates each new one 👍 (model m1) or 👎 by keyboard. */
async function importAndRate(page, rows) {
  await page.goto(place('build'));
  await page.getByTestId('prompt-count').waitFor();
  await page.getByTestId('prompt-file').setInputFiles({ name: 'hub.jsonl', mimeType: 'application/json', buffer: jsonl(rows) });
  await page.getByTestId('completion-column').waitFor();
  await page.getByTestId('use-file').click();
  await page.getByTestId('prompts-note').waitFor();
  await page.goto(place('contribute'));
  await page.getByTestId('rating-mode').selectOption('thumbs');
  const progress = () => page.evaluate(() => document.querySelector('[data-testid="rating-progress"]')?.textContent ?? '');
  await page.waitForFunction(() => /^\d+ of \d+ rated$/.test(document.querySelector('[data-testid="rating-progress"]')?.textContent ?? ''));
  let [done, total] = (await progress()).match(/\d+/g).map(Number);
  while (done < total) {
    const text = await page.getByTestId('completion').locator('p').textContent();
    await page.keyboard.press(text.startsWith('m1') ? 'y' : 'n');
    await page.keyboard.press('Enter');
    done += 1;
    await page.waitForFunction((line) => document.querySelector('[data-testid="rating-progress"]')?.textContent === line, `${done} of ${total} rated`);
  }
}

const completions = (prompts) => prompts.flatMap((prompt) => ['m1', 'm2'].map((model) => ({ prompt, completion: `${model} says: ${prompt}`, model })));

async function publish(page, repo) {
  await page.goto(place('export'));
  await page.getByTestId('publish-repo').fill(repo);
  await page.getByTestId('publish').click();
}

const outcome = async (page) => {
  await page.waitForFunction(() => document.querySelector('[data-testid="publish"]') && !document.querySelector('[data-testid="publish"]').disabled && document.querySelector('[data-testid="publish-outcome"]'));
  const element = page.getByTestId('publish-outcome');
  return { kind: await element.getAttribute('data-outcome'), text: await element.textContent() };
};

test('publish KTO and DPO; read back by datasets; again makes no commit; faults retried; no access opens a PR', async (t) => {
  const browser = await openBrowser();
  t.after(async () => {
    await faults([]);
    await browser.close();
  });
  const page = await browser.context.newPage();
  await importAndRate(page, completions(['Hub prompt 0', 'Hub prompt 1', 'Hub prompt 2', 'Hub prompt 3']));
  await signIn(page, 'organizer');
  await signedInAs(page, 'organizer');
  const repo = 'organizer/prefab-e2e-prefs';

  // First publish, through a storm: a 500 on preupload, two 429s and the
  // connection cut once during the LFS upload, all retried.
  await faults([
    { method: 'POST', path_contains: '/preupload/', status: 500, times: 1 },
    { method: 'POST', path_contains: '/commit/', status: 429, retry_after: '1', times: 2 },
    { method: 'PUT', path_contains: '', action: 'drop', times: 1 },
  ]);
  await publish(page, repo);
  let result = await outcome(page);
  assert.equal(result.kind, 'committed', result.text);
  await faults([]);
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('prefab.hub.session')).access_token);
  const tree = await hubJson(`/api/datasets/${repo}/tree/main?recursive=true`, token);
  const paths = tree.body.filter((e) => e.type === 'file').map((e) => e.path).sort();
  assert.ok(paths.includes('README.md'));
  assert.ok(paths.includes('data/kto/train-00000-of-00001.parquet'), paths.join(', '));
  assert.ok(paths.includes('data/dpo/train-00000-of-00001.parquet'), paths.join(', '));
  assert.ok(tree.body.find((e) => e.path === 'data/kto/train-00000-of-00001.parquet').lfs, 'Parquet went through LFS');
  const head = (await hubJson(`/api/datasets/${repo}/revision/main`, token)).body.sha;

  // `datasets` reads what was published, with the right features.
  assert.ok(hubPython, 'PREFAB_HUB_PYTHON is set by cargo xtask test');
  const script = `
import json, sys
from datasets import load_dataset
out = {}
for config in ("kto", "dpo"):
    ds = load_dataset(sys.argv[1], config, split="train")
    out[config] = {"rows": ds.num_rows, "features": {k: str(v) for k, v in ds.features.items()}, "first": ds[0]}
default = load_dataset(sys.argv[1], split="train")
out["default_columns"] = default.column_names
print(json.dumps(out))
`;
  const { stdout } = await promisify(execFile)(hubPython, ['-c', script, repo], {
    env: { ...process.env, HF_ENDPOINT: hubUrl, HF_TOKEN: token, HF_HUB_DISABLE_TELEMETRY: '1', HF_DATASETS_CACHE: `${process.env.PREFAB_TEST_OUTPUT ?? '/tmp'}/hf-datasets-cache`, HF_HOME: `${process.env.PREFAB_TEST_OUTPUT ?? '/tmp'}/hf-home` },
    timeout: 120_000,
  });
  const loaded = JSON.parse(stdout.trim().split('\n').pop());
  assert.equal(loaded.kto.rows, 8);
  assert.deepEqual(Object.keys(loaded.kto.features).sort(), ['completion', 'label', 'prompt']);
  assert.match(loaded.kto.features.label, /bool/);
  assert.equal(loaded.dpo.rows, 4);
  assert.deepEqual(Object.keys(loaded.dpo.features).sort(), ['chosen', 'chosen_model', 'prompt', 'prompt_id', 'rejected', 'rejected_model', 'score_chosen', 'score_rejected']);
  assert.match(loaded.dpo.features.chosen, /string/);
  assert.match(loaded.dpo.first.chosen, /^m1 says/);
  assert.deepEqual(loaded.default_columns.sort(), ['completion', 'label', 'prompt'], 'the first config is the default');

  // Again: no new commit.
  await page.getByTestId('publish').click();
  result = await outcome(page);
  assert.equal(result.kind, 'unchanged', result.text);
  assert.equal((await hubJson(`/api/datasets/${repo}/revision/main`, token)).body.sha, head);

  // A stale parent (someone committed meanwhile): a clear conflict, then a retry that works.
  await page.getByTestId('export-source').selectOption('thumbs');
  await page.getByTestId('export-strategy').selectOption('random');
  await faults([{ method: 'POST', path_contains: '/commit/', status: 412, times: 1 }]);
  await page.getByTestId('publish').click();
  result = await outcome(page);
  assert.equal(result.kind, 'error');
  assert.match(result.text, /changed while you were publishing.*nothing was overwritten/s);
  await page.getByTestId('publish').click();
  result = await outcome(page);
  assert.ok(['committed', 'unchanged'].includes(result.kind), result.text);

  // An expired or revoked token: "sign in again", and nothing stored is lost.
  const ratingsBefore = (await storedValues(page, 'ratings')).length;
  await faults([{ method: 'GET', path_contains: '/revision/', status: 401, times: 1 }]);
  await page.getByTestId('publish').click();
  result = await outcome(page);
  assert.match(result.text, /sign in again/);
  await faults([]);
  assert.equal((await storedValues(page, 'ratings')).length, ratingsBefore);
  await page.goto(place('settings'));
  await page.getByTestId('hub-sign-in').waitFor();

  // Someone without write access: a pull request, not a commit on main.
  await signIn(page, 'visitor');
  await signedInAs(page, 'visitor');
  // The visitor rates one more prompt, so there is something new to propose.
  await importAndRate(page, completions(['A visitor prompt']));
  await page.goto(place('export'));
  await page.getByTestId('publish-create').uncheck();
  await publish(page, repo);
  result = await outcome(page);
  assert.equal(result.kind, 'pull-request', result.text);
  const prs = await hubJson(`/api/datasets/${repo}/discussions?type=pull_request`, token);
  assert.ok(prs.body.discussions.some((d) => d.author?.name === 'visitor' && d.isPullRequest), JSON.stringify(prs.body));
  await tokenOnlyInSessionStorage(page);
  await screenshot(page, 'hub-publish');

  // No export carries the token.
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
  const exported = await readFile(await file.path(), 'utf8');
  const visitorToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem('prefab.hub.session')).access_token);
  assert.ok(!exported.includes(visitorToken) && !exported.includes(token));
  // The Hub's own log of every address it was asked for: no token in any of them.
  const log = await readFile(`${process.env.PREFAB_TEST_OUTPUT}/hub/.hub/requests.log`, 'utf8');
  assert.ok(log.includes('/commit/main'), 'the log is the one this test wrote to');
  assert.ok(!log.includes(token) && !log.includes(visitorToken), 'no token in any requested address');
});

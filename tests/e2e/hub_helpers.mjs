// What the end-to-end tests that use the local Hub share: its faults, the
// sign-in through the Hub's own page, and the checks that the token stays in
// sessionStorage.
import assert from 'node:assert/strict';
import { baseUrl, storedValues, place } from './browser.mjs';

/** The local Hub that `cargo xtask test` starts. */
export const hubUrl = process.env.PREFAB_HUB_URL;

/** Sets the local Hub's faults (a list of rules), or clears them with `[]`. */
export async function faults(rules) {
  const response = await fetch(`${hubUrl}/_local/faults`, {
    method: rules.length ? 'POST' : 'DELETE',
    headers: { 'Content-Type': 'application/json' },
    body: rules.length ? JSON.stringify(rules) : undefined,
  });
  assert.ok(response.ok, `setting faults: HTTP ${response.status}`);
}

/** Signs in through Settings and the Hub's own sign-in page, as `username`. */
export async function signIn(page, username) {
  await page.goto(place('settings'));
  await page.getByTestId('hub-settings').locator('summary').click();
  await page.getByTestId('hub-url').fill(hubUrl);
  await page.getByTestId('hub-url').press('Tab');
  await page.getByTestId('hub-client-id').fill('prefab-e2e');
  await page.getByTestId('hub-client-id').press('Tab');
  await page.getByTestId('hub-sign-in').click();
  // The Hub's page: a real navigation away from Prefab, then back.
  await page.waitForURL((url) => url.href.startsWith(`${hubUrl}/oauth/authorize`));
  const authorize = new URL(page.url());
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authorize.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  await page.locator('input[name="username"]').fill(username);
  await page.getByRole('button', { name: 'Authorize' }).click();
  await page.waitForURL((url) => url.href.startsWith(baseUrl));
}

export async function signedInAs(page, username) {
  await page.waitForFunction(
    (name) => document.querySelector('[data-testid="hub-account"]')?.textContent.includes(`Signed in as ${name}`),
    username,
  );
}

/** Checks the token is nowhere but sessionStorage. */
export async function tokenOnlyInSessionStorage(page) {
  const found = await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('prefab.hub.session') ?? 'null');
    const local = Object.keys(localStorage).map((key) => localStorage.getItem(key)).join('\n');
    return { token: session?.access_token, url: location.href, local };
  });
  assert.ok(found.token && found.token.length > 8, 'signed in with a token');
  assert.ok(!found.url.includes(found.token), 'the token is not in the address');
  assert.ok(!found.url.includes('code='), 'the code left the address');
  assert.ok(!found.local.includes(found.token), 'the token is not in localStorage');
  for (const store of ['settings', 'items', 'ratings']) {
    const values = await storedValues(page, store);
    assert.ok(!JSON.stringify(values).includes(found.token), `the token is not in IndexedDB's ${store}`);
  }
  return found.token;
}

export async function hubJson(path, token) {
  const response = await fetch(`${hubUrl}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: await response.json().catch(() => null) };
}

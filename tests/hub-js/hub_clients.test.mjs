// The local Hugging Face Hub (xtask/src/hub/) checked by the official JavaScript
// client, @huggingface/hub, as the page would use it: sign-in with OAuth and PKCE,
// whoami, repo creation, regular and LFS uploads, pull requests, listing and
// downloading, and a campaign's pull requests. Run by `cargo xtask test` and
// `cargo xtask hub-check` with HF_ENDPOINT (the hub), HF_TOKEN (user alice),
// PREFAB_HUB_TOKEN_BOB (user bob, no write access to alice's repos) and
// PREFAB_HUB_TOKEN_ORGANIZER (user organizer, a member of the org prefab-test).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  commit,
  createRepo,
  downloadFile,
  fileDownloadInfo,
  listCommits,
  listFiles,
  oauthHandleRedirect,
  oauthLoginUrl,
  pathsInfo,
  uploadFile,
  uploadFiles,
  whoAmI,
} from "@huggingface/hub";

const hubUrl = process.env.HF_ENDPOINT;
const alice = process.env.HF_TOKEN;
const bob = process.env.PREFAB_HUB_TOKEN_BOB;
const organizer = process.env.PREFAB_HUB_TOKEN_ORGANIZER;
const repo = { type: "dataset", name: "alice/js-checks" };

/** Bytes that are not text, so they must go through LFS. */
function binary(size, seed) {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

async function collect(iterator) {
  const items = [];
  for await (const item of iterator) items.push(item);
  return items;
}

test("sign-in: OAuth authorization code with PKCE, then userinfo and whoami", async () => {
  const storage = {};
  const redirectUrl = "http://127.0.0.1:9/callback";
  const loginUrl = await oauthLoginUrl({ hubUrl, clientId: "prefab-test-app", redirectUrl, scopes: "openid profile write-repos write-discussions", localStorage: storage });
  const page = await fetch(loginUrl);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /Hugging Face username/);
  assert.match(html, /Authorize/);
  // Submit the page's form as a browser would.
  const form = new URLSearchParams(new URL(loginUrl).searchParams);
  form.set("username", "carol");
  const answer = await fetch(new URL("/oauth/authorize", hubUrl), { method: "POST", body: form, redirect: "manual" });
  assert.equal(answer.status, 302);
  const location = answer.headers.get("location");
  assert.ok(location.startsWith(redirectUrl + "?code="), location);
  const signedIn = await oauthHandleRedirect({ hubUrl, redirectedUrl: location, nonce: storage.nonce, codeVerifier: storage.codeVerifier });
  assert.equal(signedIn.userInfo.preferred_username, "carol");
  assert.equal(signedIn.scope, "openid profile write-repos write-discussions");
  assert.ok(signedIn.accessTokenExpiresAt > new Date());
  const me = await whoAmI({ hubUrl, accessToken: signedIn.accessToken });
  assert.equal(me.name, "carol");
  // A code works once, and only with its verifier.
  await assert.rejects(oauthHandleRedirect({ hubUrl, redirectedUrl: location, nonce: storage.nonce, codeVerifier: storage.codeVerifier }), /invalid_grant/);
});

test("whoAmI names the token's user", async () => {
  const me = await whoAmI({ hubUrl, accessToken: alice });
  assert.equal(me.name, "alice");
  assert.equal(me.type, "user");
  assert.equal(me.auth.accessToken.role, "write");
});

test("createRepo, then a second time is a conflict", async () => {
  const created = await createRepo({ hubUrl, accessToken: alice, repo });
  assert.equal(created.repoUrl, `${hubUrl}/datasets/alice/js-checks`);
  await assert.rejects(createRepo({ hubUrl, accessToken: alice, repo }), (error) => error.statusCode === 409);
});

test("uploadFile: text is a regular file, Parquet and binaries go through LFS", async () => {
  await uploadFile({ hubUrl, accessToken: alice, repo, file: { path: "README.md", content: new Blob(["# JS checks\n"]) } });
  const parquet = binary(2048, 7);
  parquet.set([80, 65, 82, 49], 0); // "PAR1": the extension decides anyway.
  await uploadFiles({
    hubUrl,
    accessToken: alice,
    repo,
    files: [
      { path: "data/train.parquet", content: new Blob([parquet]) },
      { path: "blobs/random.dat", content: new Blob([binary(600_000, 3)]) },
    ],
  });
  const files = await collect(listFiles({ hubUrl, accessToken: alice, repo, recursive: true }));
  const byPath = Object.fromEntries(files.map((file) => [file.path, file]));
  assert.equal(byPath["README.md"].lfs, undefined);
  assert.equal(byPath["data/train.parquet"].lfs.size, 2048);
  assert.equal(byPath["blobs/random.dat"].lfs.size, 600_000);
  assert.equal(byPath["data"].type, "directory");
  const [info] = await pathsInfo({ hubUrl, accessToken: alice, repo, paths: ["blobs/random.dat"] });
  assert.equal(info.size, 600_000);
});

test("downloadFile gives back the same bytes, regular and LFS", async () => {
  const readme = await downloadFile({ hubUrl, accessToken: alice, repo, path: "README.md" });
  assert.equal(await readme.text(), "# JS checks\n");
  const blob = await downloadFile({ hubUrl, accessToken: alice, repo, path: "blobs/random.dat" });
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), binary(600_000, 3));
  const info = await fileDownloadInfo({ hubUrl, accessToken: alice, repo, path: "blobs/random.dat" });
  assert.equal(info.size, 600_000);
  assert.equal(await downloadFile({ hubUrl, accessToken: alice, repo, path: "nope.txt" }), null);
});

test("commit with isPullRequest: someone without write access opens a pull request", async () => {
  await assert.rejects(
    commit({ hubUrl, accessToken: bob, repo, title: "direct", operations: [{ operation: "addOrUpdate", path: "bob.txt", content: new Blob(["b"]) }] }),
    (error) => error.statusCode === 403,
  );
  const result = await commit({
    hubUrl,
    accessToken: bob,
    repo,
    title: "Bob's ratings",
    isPullRequest: true,
    operations: [
      { operation: "addOrUpdate", path: "ratings/bob.jsonl", content: new Blob(['{"rating": 1}\n']) },
      { operation: "addOrUpdate", path: "ratings/bob.parquet", content: new Blob([binary(1000, 9)]) },
    ],
  });
  assert.match(result.pullRequestUrl, /\/datasets\/alice\/js-checks\/discussions\/1$/);
  const prFiles = await collect(listFiles({ hubUrl, accessToken: alice, repo, revision: "refs/pr/1", recursive: true }));
  assert.ok(prFiles.some((file) => file.path === "ratings/bob.parquet" && file.lfs));
  const mainFiles = await collect(listFiles({ hubUrl, accessToken: alice, repo, recursive: true }));
  assert.ok(!mainFiles.some((file) => file.path.startsWith("ratings/")));
  const pulls = await (await fetch(`${hubUrl}/api/datasets/alice/js-checks/discussions?type=pull_request`)).json();
  assert.deepEqual(pulls.discussions.map((d) => [d.num, d.author.name, d.isPullRequest, d.status]), [[1, "bob", true, "open"]]);
  const download = await downloadFile({ hubUrl, accessToken: bob, repo, path: "ratings/bob.jsonl", revision: "refs/pr/1" });
  assert.equal(await download.text(), '{"rating": 1}\n');
});

test("a stale parentCommit is refused with 412", async () => {
  const commits = await collect(listCommits({ hubUrl, accessToken: alice, repo }));
  const stale = commits[commits.length - 1].oid;
  await assert.rejects(
    commit({ hubUrl, accessToken: alice, repo, title: "late", parentCommit: stale, operations: [{ operation: "addOrUpdate", path: "late.txt", content: new Blob(["x"]) }] }),
    (error) => error.statusCode === 412,
  );
});

test("cross-origin: preflights are answered and error headers exposed", async () => {
  const preflight = await fetch(`${hubUrl}/api/datasets/alice/js-checks/commit/main`, {
    method: "OPTIONS",
    headers: { Origin: "http://127.0.0.1:8080", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "http://127.0.0.1:8080");
  assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
  assert.match(preflight.headers.get("access-control-allow-headers"), /authorization/);
  const missing = await fetch(`${hubUrl}/api/datasets/alice/nothing-here`, { headers: { Origin: "http://127.0.0.1:8080" } });
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get("x-error-code"), "RepoNotFound");
  assert.match(missing.headers.get("access-control-expose-headers"), /X-Error-Code/);
  assert.equal(missing.headers.get("cross-origin-resource-policy"), "cross-origin");
});

test("a campaign: a pull request opened empty, commits to refs/pr/N, listed and read at that revision", async () => {
  const campaign = { type: "dataset", name: "prefab-test/js-campaign" };
  await createRepo({ hubUrl, accessToken: organizer, repo: campaign });
  await commit({
    hubUrl,
    accessToken: organizer,
    repo: campaign,
    title: "Open the campaign",
    operations: [
      { operation: "addOrUpdate", path: "prefab-campaign.json", content: new Blob(['{"title": "Which answer is better?"}']) },
      { operation: "addOrUpdate", path: "campaign/records.jsonl", content: new Blob(['{"id": "item-0", "prompt": "p"}\n']) },
    ],
  });
  // The page opens its pull request as the Hub's discussions API does it, then pushes to its ref.
  const opened = await fetch(`${hubUrl}/api/datasets/prefab-test/js-campaign/discussions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${bob}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title: "Ratings from bob", description: "Prefab contributions", pullRequest: true }),
  });
  assert.equal(opened.status, 200);
  const { num } = await opened.json();
  const ref = `refs/pr/${num}`;
  const batch = '{"annotator": "bob", "item": "item-0", "label": "chosen-a"}\n';
  await commit({ hubUrl, accessToken: bob, repo: campaign, branch: ref, title: "1 rating", operations: [{ operation: "addOrUpdate", path: "contributions/bob/0a1b2c3d.jsonl", content: new Blob([batch]) }] });
  const files = await collect(listFiles({ hubUrl, accessToken: organizer, repo: campaign, revision: ref, path: "contributions", recursive: true }));
  assert.deepEqual(files.map((file) => [file.type, file.path]), [["directory", "contributions/bob"], ["file", "contributions/bob/0a1b2c3d.jsonl"]]);
  const download = await downloadFile({ hubUrl, accessToken: organizer, repo: campaign, path: "contributions/bob/0a1b2c3d.jsonl", revision: ref });
  assert.equal(await download.text(), batch);
  assert.equal(await downloadFile({ hubUrl, accessToken: organizer, repo: campaign, path: "contributions/bob/0a1b2c3d.jsonl" }), null);
  // Another contributor's folder is refused, naming the path and the rule.
  await assert.rejects(
    commit({ hubUrl, accessToken: bob, repo: campaign, branch: ref, title: "forged", operations: [{ operation: "addOrUpdate", path: "contributions/alice/x.jsonl", content: new Blob(["{}\n"]) }] }),
    (error) => error.statusCode === 403 && /contributions\/alice\/x\.jsonl.*contributions\/bob\//.test(error.message),
  );
});

test("listFiles follows the Link header through a tree of 1,200 files", async () => {
  const pages = { type: "dataset", name: "alice/js-tree-pages" };
  await createRepo({ hubUrl, accessToken: alice, repo: pages });
  const paths = Array.from({ length: 1200 }, (_, i) => `part-${i % 2}/f-${String(i).padStart(4, "0")}.txt`);
  await commit({
    hubUrl,
    accessToken: alice,
    repo: pages,
    title: "1,200 small files",
    operations: paths.map((path, i) => ({ operation: "addOrUpdate", path, content: new Blob([`${i}\n`]) })),
  });
  const listed = (await collect(listFiles({ hubUrl, accessToken: alice, repo: pages, recursive: true }))).map((file) => file.path);
  assert.equal(listed.length, 1200 + 3);
  assert.equal(new Set(listed).size, listed.length);
  assert.deepEqual(listed.filter((path) => path.includes("/")).sort(), [...paths].sort());
  // With expand, 50 a page: 600 files in 12 pages, each with its last commit.
  const expanded = await collect(listFiles({ hubUrl, accessToken: alice, repo: pages, path: "part-1", expand: true }));
  assert.equal(expanded.length, 600);
  assert.ok(expanded.every((file) => file.lastCommit));
  // A cross-origin page can read the header: it is exposed.
  const first = await fetch(`${hubUrl}/api/datasets/alice/js-tree-pages/tree/main?recursive=true`, { headers: { Origin: "http://127.0.0.1:8080" } });
  assert.equal((await first.json()).length, 1000);
  assert.match(first.headers.get("link"), /^<http:\/\/[^>]+[?&]cursor=[^>]+>; rel="next"$/);
  assert.ok(first.headers.get("access-control-expose-headers").split(",").map((name) => name.trim()).includes("Link"));
});

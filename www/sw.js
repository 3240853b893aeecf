// Prefab's service worker: after one visit the page opens with no network.
//
// It keeps the page's own files (the app, its wasm, the style, the manifest)
// in a cache named after the build, and the model worker's files once a
// model has been used; the model file itself is in the worker's own cache
// ("prefab-models-v1"), read by the worker directly. Everything else (model
// downloads, the Hub, hosted endpoints) goes to the network untouched.
//
// A new build is a new `VERSION` (`cargo xtask dist` writes the hash of the
// files): the browser installs it beside the running one, which keeps
// serving the open page. The page offers "Reload to update", and only its
// click (a `skip-waiting` message) switches versions, so nobody is reloaded
// mid-rating; a page opened after every tab was closed gets the new one.
const VERSION = 'dev';
const CACHE = `prefab-page-${VERSION}`;
const PREFIX = 'prefab-page-';

/** What rating needs: fetched when this version installs. */
const PAGE = ['./', 'prefab-app.js', 'prefab-app_bg.wasm', 'style.css', 'manifest.webmanifest', 'icon.svg'];
/** What a local model needs: kept once a model has been used. */
const MODEL_WORKER = ['prefab-worker_loader.js', 'prefab-worker.js', 'prefab-worker_bg.wasm'];

const scope = () => new URL(self.registration.scope);
const own = (name) => new URL(name, self.registration.scope).href;
/** Asks the server whether the file changed (a 304 when not, with no body): a new version never mixes in an old file, and the first visit does not download the page twice. */
const fresh = (name) => new Request(own(name), { cache: 'no-cache' });

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(PAGE.map(fresh));
      // An organizer who used a model keeps it offline across an update.
      if (await previousVersionHad(MODEL_WORKER[2])) await cache.addAll(MODEL_WORKER.map(fresh));
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // The first visit's page is controlled at once, so a model worker it
      // starts later is kept too.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
  // Sent when the page starts its model worker: the worker may have started
  // before this service worker controlled the page.
  if (event.data === 'keep-model-worker') event.waitUntil(keep(MODEL_WORKER));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const base = scope();
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return;
  const name = url.pathname.slice(base.pathname.length);
  // Any address of the page (a place, a campaign link: a query, a hash) is the one page.
  if (name === '' || name === 'index.html') event.respondWith(cacheFirst(own('./'), request));
  else if (request.mode !== 'navigate' && (PAGE.includes(name) || MODEL_WORKER.includes(name))) event.respondWith(cacheFirst(own(name), request));
});

/** The cached answer for `key`, or the network's (kept when it is whole). */
async function cacheFirst(key, request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.status === 200) await cache.put(key, response.clone());
  return response;
}

/** Caches whichever of `names` this version does not have yet. */
async function keep(names) {
  const cache = await caches.open(CACHE);
  for (const name of names) {
    if (!(await cache.match(own(name)))) await cache.add(fresh(name));
  }
}

async function previousVersionHad(name) {
  for (const cacheName of await caches.keys()) {
    if (cacheName.startsWith(PREFIX) && cacheName !== CACHE && (await (await caches.open(cacheName)).match(own(name)))) return true;
  }
  return false;
}

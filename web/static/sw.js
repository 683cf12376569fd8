// Keeps the playground working offline once loaded: every file of the page is cached at
// install, and served from the cache first. build.sh writes the build's hash into VERSION, so
// a new build installs a new worker and its files replace the old ones.
const VERSION = "__BUILD__";
const CACHE = `meshsim-${VERSION}`;
const FILES = ["./", "index.html", "app.js", "style.css", "meshsim_web.js", "meshsim_web_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("meshsim-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  event.respondWith(
    caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request)),
  );
});

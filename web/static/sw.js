// The phone app's service worker (served at /sw.js, scope "/"): keeps the /me shell and its
// scripts so /me opens without a connection, sends the reports written offline (kept in
// IndexedDB by report.js) when the connection is back, and shows Web Push messages.
"use strict";
var CACHE = "geo-patrol-shell-v3";
// (the header's menu and the report's map with it: offline, a place is still chosen with
// the phone's position, and the menu still opens); any other script or style /me loads is
// kept as it is fetched
var SHELL = ["/me", "/static/app.js", "/static/report.js", "/static/refresh.js",
             "/static/events.js", "/static/push.js", "/static/menu.js", "/static/pickmap.js",
             "/static/offline.js", "/static/dispatch.js", "/static/suggest.js",
             "/static/picker.js", "/static/fields.js",
             "/vendor/leaflet.js", "/vendor/leaflet.css", "/vendor/protomaps-leaflet.js",
             "/vendor/flatpickr.js", "/vendor/flatpickr.css", "/vendor/flatpickr-zh.js",
             "/manifest.webmanifest", "/icons/192.png"];

function isAsset(path) {
  return SHELL.indexOf(path) >= 0 || /^\/(static|vendor)\/[^/]+\.(js|css)$/.test(path);
}

// the copy of /me served without a connection, marked so that the page says it is one
function keptPage(kept) {
  return kept.text().then(function (text) {
    return new Response(text.replace("<html", '<html data-kept="1"'),
                        {status: 200, headers: kept.headers});
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return cache.add(new Request(url, {credentials: "same-origin"})).catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname === "/me") {  // the network first (fresh), the kept shell when offline
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put("/me", copy); });
      }
      return response;
    }).catch(function () {
      return caches.match("/me").then(function (kept) {
        return kept ? keptPage(kept) : Response.error();
      });
    }));
    return;
  }
  if (isAsset(url.pathname)) {  // scripts and styles: the network (kept), the copy offline
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
    }));
  }
});

// -- reports written offline ------------------------------------------------------------------
function queued() {
  return new Promise(function (resolve, reject) {
    var open = indexedDB.open("geo-patrol-reports", 1);
    open.onupgradeneeded = function () { open.result.createObjectStore("reports", {keyPath: "key"}); };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
}

function each(db, mode, work) {
  return new Promise(function (resolve, reject) {
    var t = db.transaction("reports", mode), result = work(t.objectStore("reports"));
    t.oncomplete = function () { resolve(result && result.result); };
    t.onerror = function () { reject(t.error); };
  });
}

function sendQueued() {
  return queued().then(function (db) {
    return each(db, "readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.csrf; })
        .reduce(function (chain, item) {
          return chain.then(function () {
            var body = new FormData();
            Object.keys(item.fields).forEach(function (k) { body.append(k, item.fields[k]); });
            body.set("csrf_token", item.csrf);
            item.photos.forEach(function (p) { body.append("photos", p.blob, p.name); });
            if (item.video) { body.append("video", item.video.blob, item.video.name); }
            return fetch("/me/report", {method: "POST", body: body, credentials: "same-origin",
                                        headers: {Accept: "application/json"}})
              .then(function (resp) {
                // stored (201), or refused for good (400, 413): no longer waiting; a report
                // sent twice is stored once (its key)
                if (resp.status === 201 || resp.status === 400 || resp.status === 413) {
                  return each(db, "readwrite", function (s) { s.delete(item.key); });
                }
              });
          });
        }, Promise.resolve());
    });
  }).then(function () {
    return self.clients.matchAll().then(function (clients) {
      clients.forEach(function (c) { c.postMessage({kind: "gp-reports-sent"}); });
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "gp-reports") { event.waitUntil(sendQueued()); }
});
self.addEventListener("message", function (event) {
  if (event.data && event.data.kind === "gp-send-reports") { event.waitUntil(sendQueued()); }
});

// -- Web Push ----------------------------------------------------------------------------------
self.addEventListener("push", function (event) {
  var message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = {}; }
  event.waitUntil(self.registration.showNotification(message.title || "geo-patrol", {
    body: message.body || "", tag: message.kind || "geo-patrol", renotify: true,
    icon: "/icons/192.png", data: {url: message.url || "/me"},
    requireInteraction: message.kind === "callout" || message.kind === "sos"
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/me";
  event.waitUntil(self.clients.matchAll({type: "window"}).then(function (clients) {
    for (var i = 0; i < clients.length; i += 1) {
      if (new URL(clients[i].url).pathname === target) { return clients[i].focus(); }
    }
    return self.clients.openWindow(target);
  }));
});

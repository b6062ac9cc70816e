// The report form on /me, made for a phone: photos made smaller on the phone before they are
// sent (the camera's EXIF kept, so the server can compare where and when they were taken
// with the reporter's own track; it removes EXIF from every copy it shows), and reports kept
// on the phone (IndexedDB) while there is no connection, sent when it is back.
(function () {
  "use strict";
  var form = document.getElementById("report");
  if (!form) { return; }
  var MAX_SIDE = 1600, QUALITY = 0.85, STORE = "reports";
  var status = document.getElementById("report-status");
  var input = document.getElementById("photos");
  var previews = document.getElementById("previews");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "bad" : "muted";
  }

  // --- where: the phone's position, the search or a tap on the map fill the hidden lon/lat
  // (pickmap.js says where the place is) ---------------------------------------------------
  var place = {lon: form.elements.lon, lat: form.elements.lat};
  var placeStatus = document.getElementById("place-status");
  function hasPlace() { return place.lon.value !== "" && place.lat.value !== ""; }
  function showPlace() {
    if (hasPlace() && status.textContent === form.dataset.noPlace) { say("", false); }
  }
  place.lon.addEventListener("change", showPlace);
  place.lat.addEventListener("change", showPlace);

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return String(Date.now()) + "-" + String(Math.random()).slice(2, 12);
  }

  // --- photos made smaller on the phone ---------------------------------------------------
  function exifSegment(buffer) {
    // the APP1 "Exif" segment of a JPEG, or null
    var b = new Uint8Array(buffer), i = 2;
    if (b.length < 4 || b[0] !== 0xFF || b[1] !== 0xD8) { return null; }
    while (i + 4 <= b.length && b[i] === 0xFF) {
      var marker = b[i + 1], len = (b[i + 2] << 8) | b[i + 3];
      if (marker === 0xDA) { return null; }
      if (marker === 0xE1 && b[i + 4] === 0x45 && b[i + 5] === 0x78 && b[i + 6] === 0x69 &&
          b[i + 7] === 0x66) {
        return b.slice(i, i + 2 + len);
      }
      i += 2 + len;
    }
    return null;
  }

  function withExif(blob, segment) {
    if (!segment) { return Promise.resolve(blob); }
    return blob.arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf);
      return new Blob([b.slice(0, 2), segment, b.slice(2)], {type: "image/jpeg"});
    });
  }

  function smaller(file) {
    // a JPEG at most MAX_SIDE pixels a side; a file the phone cannot draw is sent as it is,
    // for the server to say what is wrong with it
    if (!window.createImageBitmap || !/^image\//.test(file.type)) {
      return Promise.resolve({name: file.name, blob: file});
    }
    return file.arrayBuffer().then(function (buf) {
      return createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        return new Promise(function (resolve) {
          canvas.toBlob(resolve, "image/jpeg", QUALITY);
        }).then(function (blob) {
          return withExif(blob, exifSegment(buf));
        }).then(function (blob) {
          return {name: file.name.replace(/\.[^.]*$/, "") + ".jpg", blob: blob};
        });
      });
    }).catch(function () { return {name: file.name, blob: file}; });
  }

  if (input) {
    input.addEventListener("change", function () {
      previews.textContent = "";
      Array.prototype.forEach.call(input.files, function (file) {
        if (!/^image\//.test(file.type)) { return; }
        var img = document.createElement("img");
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        previews.appendChild(img);
      });
    });
  }

  // --- the queue on the phone -------------------------------------------------------------
  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open("geo-patrol-reports", 1);
      open.onupgradeneeded = function () { open.result.createObjectStore(STORE, {keyPath: "key"}); };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }

  function tx(mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode), result = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(result && result.result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function keep(item) { return tx("readwrite", function (s) { s.put(item); }); }
  function drop(key) { return tx("readwrite", function (s) { s.delete(key); }); }
  function waiting() { return tx("readonly", function (s) { return s.getAll(); }); }

  function showWaiting() {
    return waiting().then(function (items) {
      if (items && items.length) {
        say(form.dataset.waiting.replace("{n}", items.length), false);
      }
      return items || [];
    });
  }

  function post(item) {
    var body = new FormData();
    Object.keys(item.fields).forEach(function (k) { body.append(k, item.fields[k]); });
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    item.photos.forEach(function (p) { body.append("photos", p.blob, p.name); });
    if (item.video) { body.append("video", item.video.blob, item.video.name); }
    return fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                               headers: {"Accept": "application/json"}});
  }

  function send(item) {
    // resolves with the server's answer; rejects (and keeps the report) when offline
    return post(item).then(function (resp) {
      return resp.json().catch(function () { return {message: resp.statusText}; })
        .then(function (answer) {
          if (resp.status === 201 || resp.status === 400 || resp.status === 413) {
            return drop(item.key).then(function () {
              return {ok: resp.status === 201, answer: answer};
            });
          }
          return {ok: false, answer: answer};
        });
    });
  }

  var flushing = null;

  function flush() {
    // one pass at a time: "online" and a page load may both ask
    if (!navigator.onLine) { return Promise.resolve(); }
    if (!flushing) {
      flushing = sendWaiting().then(function () { flushing = null; },
                                    function () { flushing = null; });
    }
    return flushing;
  }

  function sendWaiting() {
    return showWaiting().then(function (items) {
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return send(item).then(function (r) {
            if (r.ok) { say("", false); return; }
            say(r.answer.message || "", true);
          });
        });
      }, Promise.resolve());
    }).then(showWaiting).catch(function () { /* still offline: tried again when online */ });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!hasPlace()) {  // (the server refuses it too, in the page's language)
      say(form.dataset.noPlace, true);
      if (placeStatus) { placeStatus.className = "bad"; }
      return;
    }
    form.querySelector("input[name=key]").value = newKey();
    form.querySelector("input[name=made_at]").value = String(Date.now());
    var fields = {};
    ["key", "made_at", "category", "text", "lon", "lat"].forEach(function (k) {
      fields[k] = form.elements[k].value;
    });
    var files = input ? Array.prototype.slice.call(input.files) : [];
    say(form.dataset.sending, false);
    Promise.all(files.map(smaller)).then(function (photos) {
      var clip = form.elements.video && form.elements.video.files[0];
      var item = {key: fields.key, fields: fields, photos: photos,
                  video: clip ? {name: clip.name, blob: clip} : null};
      var queued = function () {
        // the service worker sends it when the connection is back, even with the page closed
        item.csrf = form.querySelector("input[name=csrf_token]").value;
        return keep(item).then(function () {
          if (navigator.serviceWorker) {
            navigator.serviceWorker.ready.then(function (reg) {
              return reg.sync && reg.sync.register("gp-reports");
            }).catch(function () {});
          }
          form.reset();
          previews.textContent = "";
          say(form.dataset.queued, false);
        });
      };
      if (!navigator.onLine) { return queued(); }
      return post(item).then(function (resp) {
        return resp.json().catch(function () { return {message: resp.statusText}; })
          .then(function (answer) {
            if (resp.status === 201) { window.location.assign(answer.next); return; }
            say(answer.message || resp.statusText, true);
          });
      }, queued);
    });
  });

  window.addEventListener("online", flush);
  flush();
})();

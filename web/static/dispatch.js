// Call-outs and SOS alarms without reload: the parts of the page marked data-part are fetched
// again from the URL of [data-refresh] on every "gp:event" the page receives and every few
// seconds besides (the fallback when no event arrives). An unacknowledged SOS plays the alarm
// sound (a file served by the app) until an officer takes it.
(function () {
  "use strict";
  var root = document.querySelector("[data-refresh]");
  if (!root) { return; }
  var url = root.dataset.refresh;
  var every = Number(root.dataset.every) || 10000;
  var busy = false;
  var sound = document.getElementById("sos-sound");

  function comparable(el) {  // a fresh CSRF token, or a confirmation left open, is no change
    return el.innerHTML.replace(/name="csrf_token" value="[^"]*"/g, "")
      .replace(/<details([^>]*?) open=""/g, "<details$1");
  }

  function keepOpen(old, fresh) {  // a confirmation the person opened stays open
    old.querySelectorAll("details[open][id]").forEach(function (d) {
      var same = fresh.querySelector("#" + CSS.escape(d.id));
      if (same) { same.open = true; }
    });
    return fresh;
  }

  // a browser plays no sound on a page nobody has touched yet (a wall screen reopened, a
  // bookmark): the page says so, and a tap anywhere (or on the button) allows it
  var soundOn = document.getElementById("sos-sound-on");

  function soundBlocked(blocked) {
    if (soundOn) { soundOn.hidden = !blocked; }
    if (blocked) { document.body.dataset.sosSound = "blocked"; }
  }

  function alarm() {
    var box = document.getElementById("sos-alarms");
    var open = box ? Number(box.dataset.unacknowledged || 0) : 0;
    document.body.dataset.sosOpen = String(open);
    if (!sound || !open) { return; }
    sound.currentTime = 0;
    var played = sound.play();
    if (played && played.then) {
      played.then(function () {
        document.body.dataset.sosSound = "played";
        soundBlocked(false);
      }).catch(function () { soundBlocked(true); });
    }
  }

  if (sound && soundOn) {
    if (navigator.userActivation && !navigator.userActivation.hasBeenActive) {
      soundBlocked(true);
    }
    // once the tap is over (hiding the notice as the pointer goes down would move what
    // is being tapped)
    var allowed = function () {
      document.removeEventListener("click", allowed, true);
      document.removeEventListener("keydown", allowed, true);
      soundBlocked(false);
      document.body.dataset.sosSound = "allowed";
      alarm();
    };
    document.addEventListener("click", allowed, true);
    document.addEventListener("keydown", allowed, true);
  }

  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-part]").forEach(function (fresh) {
          var old = document.querySelector('[data-part="' + fresh.dataset.part + '"]');
          if (old && comparable(old) !== comparable(fresh)) {
            old.replaceWith(keepOpen(old, document.importNode(fresh, true)));
          }
        });
        document.body.dataset.refreshedAt = String(Date.now());
        alarm();
      })
      .catch(function () { /* the next turn tries again */ })
      .finally(function () { busy = false; });
  }

  // the SOS goes with where the phone is now (when the browser may tell, within a few
  // seconds); otherwise the server takes the phone's last reported position
  var sos = document.getElementById("sos-form");
  if (sos && navigator.geolocation) {
    sos.addEventListener("submit", function (event) {
      if (sos.dataset.located) { return; }
      event.preventDefault();
      var button = document.getElementById("sos-send");
      button.disabled = true;
      button.textContent = button.dataset.locating;
      var send = function () { sos.dataset.located = "1"; sos.submit(); };
      navigator.geolocation.getCurrentPosition(function (pos) {
        sos.querySelector("input[name=lon]").value = pos.coords.longitude.toFixed(6);
        sos.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
        send();
      }, send, {enableHighAccuracy: true, timeout: 8000, maximumAge: 30000});
    });
  }

  window.addEventListener("gp:event", refresh);
  window.setInterval(refresh, every);
  window.setInterval(alarm, 5000);
  alarm();
})();

// The phone app: its service worker registered (the /me shell kept, reports written offline
// sent when back), and "Turn on notifications" where the browser has Web Push.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }
  navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () {});

  // a report kept offline: the service worker sends it when the connection is back (and the
  // page, if it is open then, does too: a report sent twice is stored once)
  window.addEventListener("online", function () {
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) { reg.active.postMessage({kind: "gp-send-reports"}); }
    });
  });

  var button = document.getElementById("push-on");
  var status = document.getElementById("push-status");
  if (!button || !("PushManager" in window) || !("Notification" in window)) { return; }
  button.hidden = false;

  function key(text) {
    var pad = "=".repeat((4 - text.length % 4) % 4);
    var raw = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function save(subscription) {
    var csrf = document.querySelector("meta[name=csrf-token]").content;
    return fetch(button.dataset.save, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf,
                "Accept": "application/json"},
      body: JSON.stringify(subscription.toJSON())});
  }

  button.addEventListener("click", function () {
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error("refused"); }
      return Promise.all([navigator.serviceWorker.ready,
                          fetch(button.dataset.key, {credentials: "same-origin"})
                            .then(function (r) { return r.json(); })]);
    }).then(function (both) {
      var manager = both[0].pushManager;
      var options = {userVisibleOnly: true, applicationServerKey: key(both[1].key)};
      return manager.subscribe(options).then(function (subscription) {
        return save(subscription).then(function (r) {
          if (r.status !== 409) { return r; }
          // the browser's subscription is another account's (a phone that changed hands):
          // it asks its push service for one of this account's own
          return subscription.unsubscribe()
            .then(function () { return manager.subscribe(options); }).then(save);
        });
      });
    }).then(function (r) {
      if (r.ok) {
        status.textContent = button.dataset.done;
        button.hidden = true;
        return;
      }
      // the server's reason, in the page's language, as text
      return r.json().then(function (answer) {
        status.textContent = answer.message || button.dataset.failed;
      });
    }).catch(function () { status.textContent = button.dataset.failed; });
  });
}());

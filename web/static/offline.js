// The phone app without a connection (/me opened from the service worker's copy, or the
// connection lost while it is open): says so on top, with the time the page shows, and the
// buttons that need the server wait for it. A report is still kept on the phone and sent
// once the connection is back (report.js); in danger, the note offers a call to 110.
(function () {
  "use strict";
  var note = document.getElementById("offline-note");
  if (!note) { return; }
  // the service worker marks the copy it serves when the server cannot be reached
  var kept = document.documentElement.getAttribute("data-kept") === "1";
  var reload = document.getElementById("offline-reload");

  function update() {
    var off = navigator.onLine === false;
    note.hidden = !(off || kept);
    if (reload) { reload.hidden = off || !kept; }
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      if (form.id === "report") { return; }
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = off; });
    });
  }
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}());

// A page's parts refreshed when a live event arrives: the page is read again (from its
// address, or from data-url when the page answers a form posted elsewhere) and the parts
// named in data-parts (element ids) replaced.
(function () {
  "use strict";
  var me = document.currentScript;
  var parts = ((me && me.getAttribute("data-parts")) || "").split(/\s+/).filter(Boolean);
  var url = (me && me.getAttribute("data-url")) || window.location.href;
  var timer = null;

  function refresh() {
    timer = null;
    fetch(url, {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var now = document.getElementById(id), fresh = doc.getElementById(id);
          if (now && fresh) { now.innerHTML = fresh.innerHTML; }
        });
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ });
  }

  window.addEventListener("gp:event", function () {
    if (!timer) { timer = setTimeout(refresh, 200); }
  });
}());

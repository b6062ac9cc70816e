// Behaviour of the pages, served from /static/ (the Content-Security-Policy allows no inline
// script): selects that submit their form, file drop on the upload form, the progress of a
// job, and the phone's own location for a report.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // a form that cannot be undone asks first, in the page's language
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  var upload = document.getElementById("upload");
  if (upload) {
    upload.addEventListener("dragover", function (e) { e.preventDefault(); });
    upload.addEventListener("drop", function (e) {
      e.preventDefault();
      var file = document.getElementById("file");
      file.files = e.dataTransfer.files;
      file.dispatchEvent(new Event("change"));  // the chosen file's name is shown
    });
  }
  // a form sent back with a refusal opens at it (on a phone the form may be screens below
  // the top), unless the address names a place on the page
  var refusal = document.querySelector(".field-error");
  if (refusal && !window.location.hash) { refusal.scrollIntoView({block: "center"}); }
  // long work runs as a job: its progress is shown until it is done, then the page reloads
  // to show the result (or the job's error)
  var leaving = false;  // a link followed while a job is polled: no reload to undo it
  window.addEventListener("beforeunload", function () { leaving = true; });
  document.querySelectorAll("[data-job]").forEach(function (box) {
    var bar = box.querySelector("progress");
    var share = box.querySelector(".job-share");
    function poll() {
      fetch(box.dataset.job, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.value = job.progress; }
          if (share) { share.textContent = Math.round(100 * job.progress); }
          if (leaving) { return; }
          if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  });
  // numbers right-aligned, text left: a cell that holds a figure (a count, a share, a
  // length...) and the header of a column of figures
  var figure = /^[-+−]?[\d][\d,.\s]*(%|km|m|h|min|s|分钟|小时|秒|米|千米|公里)?$|^—$/;
  document.querySelectorAll("table.gp").forEach(function (table) {
    var numeric = {};
    var figures = {};  // a column of empty cells is no column of figures
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.cells, function (cell, i) {
        if (cell.colSpan > 1) { return; }
        var text = cell.textContent.trim();
        var isNum = text !== "" && figure.test(text);
        if (isNum && text !== "—") { cell.classList.add("num"); figures[i] = true; }
        if (numeric[i] === undefined) { numeric[i] = true; }
        if (!isNum && text !== "") { numeric[i] = false; }
      });
    });
    var head = table.tHead && table.tHead.rows[0];
    if (head) {
      Array.prototype.forEach.call(head.cells, function (cell, i) {
        if (numeric[i] && figures[i]) { cell.classList.add("num"); }
      });
    }
  });
  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      var status = document.getElementById("locate-status");
      status.textContent = locate.dataset.waiting;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var where = locate.form || document;  // the report's own fields, not the SOS form's
        where.querySelector("input[name=lon]").value = pos.coords.longitude.toFixed(6);
        where.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
        // the form's map marks it, and the form says a place is chosen
        where.querySelector("input[name=lon]").dispatchEvent(new Event("change", {bubbles: true}));
        status.textContent = locate.dataset.done + " ±" + Math.round(pos.coords.accuracy) + " m";
      }, function () { status.textContent = locate.dataset.failed; },
      {enableHighAccuracy: true, timeout: 15000});
    });
  }
})();

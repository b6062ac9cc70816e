// Behaviour of the pages, served from /static/ (the Content-Security-Policy allows no inline
// script): selects that submit their form, file drop on the upload form, the progress of a
// job, and the phone's own location for a report.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var upload = document.getElementById("upload");
  if (upload) {
    upload.addEventListener("dragover", function (e) { e.preventDefault(); });
    upload.addEventListener("drop", function (e) {
      e.preventDefault();
      document.getElementById("file").files = e.dataTransfer.files;
    });
  }
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
  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      var status = document.getElementById("locate-status");
      status.textContent = locate.dataset.waiting;
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.querySelector("input[name=lon]").value = pos.coords.longitude.toFixed(6);
        document.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
        status.textContent = locate.dataset.done + " ±" + Math.round(pos.coords.accuracy) + " m";
      }, function () { status.textContent = locate.dataset.failed; },
      {enableHighAccuracy: true, timeout: 15000});
    });
  }
})();

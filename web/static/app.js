// Behaviour of the pages, served from /static/ (the Content-Security-Policy allows no inline
// script): selects that submit their form, file drop on the upload form, and the phone's own
// location for a report.
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

// Form fields in the page's language whatever the browser's own: a calendar (flatpickr, from
// npm, served by the app) on every day field, writing the day as the city does, 2026-03-15,
// and typing still allowed; a 24-hour clock on every time field; a file chooser showing the
// chosen file's name.
(function () {
  "use strict";
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  if (window.flatpickr) {
    // weeks start on Monday, as the city's (and the pages') weeks do
    var locale = zh && window.flatpickr.l10ns.zh
      ? Object.assign({}, window.flatpickr.l10ns.zh,
                      {yearAriaLabel: "年份", monthAriaLabel: "月份", firstDayOfWeek: 1})
      : Object.assign({}, window.flatpickr.l10ns.default, {firstDayOfWeek: 1});
    // a day as people type it, as the server reads it: 2026-03-15, 2026/3/15, 2026年3月15日
    var typed = /^\s*(\d{4})\s*[-\/.年]\s*(\d{1,2})\s*[-\/.月]\s*(\d{1,2})\s*日?\s*$/;
    var parse = function (text) {
      var m = typed.exec(text || "");
      if (!m) { return undefined; }
      var day = new Date(+m[1], +m[2] - 1, +m[3]);
      return day.getMonth() === +m[2] - 1 ? day : undefined;  // no 31 February
    };
    document.querySelectorAll("input.date").forEach(function (input) {
      var picker = window.flatpickr(input, {
        locale: locale, dateFormat: "Y-m-d", allowInput: true,
        parseDate: parse,
        disableMobile: true  // a phone's own picker would follow the phone's language again
      });
      // a whole day typed (2026-03-15, 2026年3月15日): the calendar shows it and gets out of
      // the way (a shorter one, 2026-3-1..., may still grow: it is read when the field is left)
      var whole = /^\s*\d{4}-\d{2}-\d{2}\s*$|日\s*$/;
      input.addEventListener("input", function () {
        var day = whole.test(input.value) && parse(input.value);
        if (day) { picker.setDate(day, false); picker.close(); }
      });
    });
    // a time of day on the 24-hour clock, as the city reads it (no AM/PM of an English phone)
    document.querySelectorAll("input.time").forEach(function (input) {
      window.flatpickr(input, {
        locale: locale, enableTime: true, noCalendar: true, dateFormat: "H:i",
        time_24hr: true, allowInput: true, disableMobile: true
      });
    });
  }
  document.querySelectorAll(".file-pick input[type=file]").forEach(function (input) {
    var name = input.parentNode.querySelector(".file-name");
    function show() {
      var n = input.files ? input.files.length : 0;
      name.textContent = n === 0 ? name.dataset.none
        : n === 1 ? input.files[0].name : name.dataset.many.replace("#", String(n));
    }
    input.addEventListener("change", show);
    show();  // a page restored from the history keeps the chosen files
  });
})();

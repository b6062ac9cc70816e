// Answers as one types, for the maps' search box and the forms' pickers: a moment after the
// last key, asks ``url`` + the query for a JSON list of answers ({kind, label, ...}), shows
// the answers to the latest question only, says so when there are none, and chooses an
// answer on a click (the first on Enter). Texts are set as text only.
window.gpSuggest = function (input, list, o) {
  "use strict";
  var WAIT = 200;
  var timer = null, asked = 0, answers = [];

  function choose(item) {
    list.textContent = "";
    answers = [];
    o.choose(item);
  }

  function show(items) {
    answers = items;
    list.textContent = "";
    if (!items.length) {
      var none = document.createElement("li");
      if (o.noneClass) { none.className = o.noneClass; }
      none.textContent = o.none || "";
      if (o.noneStyle) { none.style.cssText = o.noneStyle; }
      list.appendChild(none);
      return;
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.className = o.answerClass;
      li.dataset.kind = item.kind;
      li.textContent = item.label;
      if (o.answerStyle) { li.style.cssText = o.answerStyle; }
      li.addEventListener("click", function () { choose(item); });
      list.appendChild(li);
    });
  }

  function ask() {
    var q = input.value.trim();
    if (!q) { list.textContent = ""; return; }
    var mine = ++asked;
    fetch(o.url + "q=" + encodeURIComponent(q),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (mine === asked) { show(items); } })
      .catch(function () { /* the next key asks again */ });
  }

  input.addEventListener("input", function () {
    if (o.typed) { o.typed(); }
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, WAIT);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();  // a picker's form is sent by its button, not by choosing
      if (answers.length) { choose(answers[0]); }
    }
  });
};

// A search box's hint: the first of ``hints`` (longest first) whose whole text the box shows,
// measured as the box lays out typed text (its clear button beside it), so that a phone's
// narrow box or a wider font gets a shorter one; fitted again whenever the box's size
// changes (shown, unfolded, turned).
window.gpFitHint = function (input, hints) {
  "use strict";
  function fits(text) {
    input.value = text;
    var ok = input.scrollWidth <= input.clientWidth;
    input.value = "";
    return ok;
  }
  function fit() {
    if (!input.clientWidth || input.value) { return; }  // not shown, or typed in: later
    for (var i = 0; i < hints.length; i++) {
      if (i === hints.length - 1 || fits(hints[i])) { input.placeholder = hints[i]; return; }
    }
  }
  fit();
  if (window.ResizeObserver) { new window.ResizeObserver(fit).observe(input); }
  else { window.addEventListener("resize", fit); }
};

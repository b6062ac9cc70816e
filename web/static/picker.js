// Pickers of the forms: a search box answered as one types (the maps' search, limited to the
// kinds the field takes and to what the role may see). Choosing an answer fills the form's
// hidden field with the record (never typed by the user) and shows its name; a point picker
// fills the form's longitude and latitude. Texts are set as text only.
(function () {
  "use strict";
  var WAIT = 200;

  function attach(box) {
    var input = box.querySelector("input.picker-query");
    if (!input) {
      input = document.createElement("input");
      input.type = "search";
      input.className = "picker-query";
      input.placeholder = box.dataset.placeholder || "";
      input.setAttribute("aria-label", box.dataset.placeholder || "");
      box.appendChild(input);
    }
    input.autocomplete = "off";
    var list = document.createElement("ul");
    list.className = "picker-list";
    box.appendChild(list);
    var form = box.closest("form");
    var hidden = box.dataset.field ? form.querySelector("input[name='" + box.dataset.field + "']") : null;
    var timer = null, asked = 0, answers = [];

    function choose(item) {
      if (hidden) { hidden.value = item.id; }
      if (box.dataset.lon) {
        form.querySelector("input[name='" + box.dataset.lon + "']").value = item.lon.toFixed(6);
        form.querySelector("input[name='" + box.dataset.lat + "']").value = item.lat.toFixed(6);
      }
      input.value = item.label;
      list.textContent = "";
      answers = [];
      // the refusal of the value chosen before no longer applies
      box.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
    }

    function show(items) {
      answers = items;
      list.textContent = "";
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "picker-none";
        none.textContent = box.dataset.none || "";
        list.appendChild(none);
        return;
      }
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "picker-answer";
        li.dataset.kind = item.kind;
        li.textContent = item.label;
        li.addEventListener("click", function () { choose(item); });
        list.appendChild(li);
      });
    }

    function ask() {
      var q = input.value.trim();
      if (!q) { list.textContent = ""; return; }
      var mine = ++asked;
      fetch(box.dataset.url + "q=" + encodeURIComponent(q),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (items) { if (mine === asked) { show(items); } })
        .catch(function () { /* the next key asks again */ });
    }

    input.addEventListener("input", function () {
      if (hidden) { hidden.value = ""; }  // a changed name no longer names the record chosen
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, WAIT);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        if (answers.length) { choose(answers[0]); }
      }
    });
  }

  document.querySelectorAll(".picker").forEach(attach);
})();

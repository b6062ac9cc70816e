// Pickers of the forms: a search box answered as one types (suggest.js asking the maps'
// search, limited to the kinds the field takes and to what the role may see). Choosing an
// answer fills the form's hidden field with the record (never typed by the user) and shows
// its name; a point picker fills the form's longitude and latitude. Texts are set as text
// only.
(function () {
  "use strict";

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
    if (box.dataset.short && box.dataset.placeholder) {
      // the whole hint where it fits, else its short form (a phone); the whole one stays
      // the box's title
      input.title = box.dataset.placeholder;
      window.gpFitHint(input, [box.dataset.placeholder, box.dataset.short]);
    }
    input.autocomplete = "off";
    var list = document.createElement("ul");
    list.className = "picker-list";
    box.appendChild(list);
    var form = box.closest("form");
    var hidden = box.dataset.field ? form.querySelector("input[name='" + box.dataset.field + "']") : null;
    window.gpSuggest(input, list, {
      url: box.dataset.url, answerClass: "picker-answer", noneClass: "picker-none",
      none: box.dataset.none,
      typed: function () {  // a changed name no longer names the record chosen
        if (hidden) { hidden.value = ""; }
      },
      choose: function (item) {
        if (hidden) { hidden.value = item.id; }
        if (box.dataset.lon) {
          var lon = form.querySelector("input[name='" + box.dataset.lon + "']");
          var lat = form.querySelector("input[name='" + box.dataset.lat + "']");
          // a street is a line, kilometres long, a community or district an area: none of
          // their points is the place, the form's map shows the whole and the user clicks
          // where in it (an area is the place at its middle for a form that says so: a
          // notice's area)
          var street = item.kind === "street";
          var area = (item.kind === "community" || item.kind === "district") &&
            !box.dataset.areaCentre;
          var whole = (street || area) && item.bounds;
          lon.value = whole ? "" : item.lon.toFixed(6);
          lat.value = whole ? "" : item.lat.toFixed(6);
          // the map shows the street or area chosen (or stops showing one: another place),
          // marks the place and its line says where it is
          form.dispatchEvent(new CustomEvent("gp-along", {detail: whole ?
            {bounds: item.bounds, name: street ? item.id : item.name,
             street: street} : {bounds: null, name: null, street: false}}));
          lon.dispatchEvent(new Event("change", {bubbles: true}));
        }
        input.value = item.label;
        // the refusal of the value chosen before no longer applies
        box.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      }
    });
  }

  document.querySelectorAll(".picker").forEach(attach);
})();

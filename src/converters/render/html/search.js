// The search of an aisys session index: hides the rows whose text lacks a word typed.
(function () {
  "use strict";
  var box = document.getElementById("q");
  var count = document.getElementById("count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#sessions tbody tr"));
  if (!box || !count) { return; }
  box.hidden = false;
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search") || "";
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = words.length ? shown + " of " + rows.length + " sessions" : rows.length + " sessions";
  }
  box.addEventListener("input", apply);
  var q = new URLSearchParams(location.search).get("q");
  if (q) { box.value = q; }
  apply();
})();

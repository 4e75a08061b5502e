// Authoring forms: checks the indicator pattern while the analyst types, builds patterns
// from common observables, and offers the relationship types the spec defines for the
// chosen source and target. Served as a static file under the portal's CSP: no inline code.
(function () {
  "use strict";

  function jsonData(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // --- Pattern check -------------------------------------------------------------------
  var pattern = document.getElementById("id_pattern");
  var status = document.getElementById("pattern-status");
  var patternType = document.getElementById("id_pattern_type");
  var timer = null;
  var sequence = 0;

  function showStatus(ok, text) {
    status.textContent = text;
    status.className = "pattern-status " + (ok ? "ok" : "bad");
  }

  function checkPattern() {
    if (!pattern || !status) return;
    if (patternType && patternType.value && patternType.value !== "stix") {
      showStatus(true, "");
      return;
    }
    var mine = ++sequence;
    var url = status.dataset.checkUrl + "?pattern=" + encodeURIComponent(pattern.value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (result) {
        if (mine !== sequence) return; // an older answer arriving late
        if (result.ok) {
          showStatus(true, "✔ Valid STIX pattern");
        } else {
          var where = result.column === null ? "" : " (column " + result.column + ")";
          showStatus(false, "✘ " + result.message + where);
        }
      })
      .catch(function () { showStatus(false, "The pattern could not be checked just now."); });
  }

  function scheduleCheck() {
    clearTimeout(timer);
    timer = setTimeout(checkPattern, 300);
  }

  if (pattern && status) {
    pattern.addEventListener("input", scheduleCheck);
    if (patternType) patternType.addEventListener("change", scheduleCheck);
    if (pattern.value) checkPattern();
  }

  // --- Pattern builder -----------------------------------------------------------------
  var addButton = document.getElementById("observable-add");
  if (addButton && pattern) {
    addButton.addEventListener("click", function () {
      var kind = document.getElementById("observable-kind").value;
      var input = document.getElementById("observable-value");
      var value = input.value.trim();
      if (!value) return;
      // STIX 2.1 section 9.2: string literals are quoted with ' and escape \ and '.
      var literal = "'" + value.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
      var comparison = "[" + kind + " = " + literal + "]";
      pattern.value = pattern.value.trim() ? pattern.value.trim() + " OR " + comparison : comparison;
      input.value = "";
      checkPattern();
    });
  }

  // --- Relationship types for the chosen source and target ---------------------------
  var table = jsonData("relationship-table");
  var common = jsonData("common-relationships") || [];
  var refTypes = jsonData("ref-types") || {};
  var source = document.getElementById("id_source_ref");
  var target = document.getElementById("id_target_ref");
  var list = document.getElementById("vocab-relationship_type");

  function offerRelationships() {
    var from = refTypes[source.value];
    var to = refTypes[target.value];
    var specific = (table && from && to && table[from] && table[from][to]) || [];
    if (!from || !to) return;
    while (list.firstChild) list.removeChild(list.firstChild);
    specific.concat(common).forEach(function (value) {
      var option = document.createElement("option");
      option.value = value;
      list.appendChild(option);
    });
  }

  if (table && source && target && list) {
    source.addEventListener("change", offerRelationships);
    target.addEventListener("change", offerRelationships);
    offerRelationships();
  }
})();

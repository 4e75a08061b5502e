// Reloads the page while the server says work is pending: the page then carries
// <div id="auto-refresh" data-seconds="N">. A static file, so the CSP needs no inline script.
(function () {
  "use strict";
  var marker = document.getElementById("auto-refresh");
  if (!marker) {
    return;
  }
  var seconds = parseInt(marker.getAttribute("data-seconds"), 10);
  if (!(seconds > 0)) {
    seconds = 5;
  }
  window.setTimeout(function () {
    window.location.reload();
  }, seconds * 1000);
})();

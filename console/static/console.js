// Progressive enhancement only: every page works without this file.
// 1. Deadlines count down each second. 2. List pages reload themselves (not while a form is in use).
(function () {
  "use strict";
  // Count against the server's clock (sent with the page), not the browser's.
  var skew = 0;
  function left(deadline) {
    var s = Math.floor((Date.parse(deadline) - (Date.now() + skew)) / 1000);
    if (isNaN(s)) { return null; }
    if (s <= 0) { return "expired"; }
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + "h " + pad(m) + "m" : m + "m " + pad(r) + "s";
  }
  function tick() {
    var nodes = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < nodes.length; i++) {
      var text = left(nodes[i].getAttribute("data-deadline"));
      if (text !== null) { nodes[i].textContent = text; nodes[i].setAttribute("data-live", "1"); }
    }
  }
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var serverNow = Date.parse(document.body.getAttribute("data-server-now") || "");
    if (!isNaN(serverNow)) { skew = serverNow - Date.now(); }
    tick();
    setInterval(tick, 1000);
    var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (every > 0) {
      setInterval(function () { if (!busy()) { window.location.reload(); } }, every * 1000);
    }
  });
})();

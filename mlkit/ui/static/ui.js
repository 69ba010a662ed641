// mlkit dashboard: hover values on chart points, series toggles, auto-submitting selects.
// Written for mlkit (no library, no network); the pages work without it.
"use strict";
(function () {
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  document.addEventListener("DOMContentLoaded", function () {
    document.body.appendChild(tip);
    document.querySelectorAll("svg .pt").forEach(function (pt) {
      pt.addEventListener("mouseenter", function (ev) {
        var group = pt.closest("g.series");
        var name = group ? group.getAttribute("data-name") + ": " : "";
        tip.textContent = name + pt.getAttribute("data-x") + " → " + pt.getAttribute("data-y");
        tip.hidden = false;
        tip.style.left = ev.pageX + 12 + "px";
        tip.style.top = ev.pageY - 28 + "px";
      });
      pt.addEventListener("mouseleave", function () { tip.hidden = true; });
    });
    document.querySelectorAll("button.toggle").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var chart = document.getElementById(btn.getAttribute("data-chart"));
        var series = chart && chart.querySelector(
          'g.series[data-series="' + btn.getAttribute("data-series") + '"]');
        if (!series) { return; }
        var off = series.classList.toggle("off");
        btn.classList.toggle("off", off);
        btn.setAttribute("aria-pressed", off ? "false" : "true");
      });
    });
    document.querySelectorAll("select.autosubmit").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  });
})();

// hookd console: the sign-in link of hookd demo, and the rules' charts.
(function () {
  "use strict";
  function ready(f) {
    if (document.readyState !== "loading") f(); else document.addEventListener("DOMContentLoaded", f);
  }
  ready(function () {
    // /ui/login#key=KEY (printed by hookd demo): the key stays in the
    // browser (a fragment is never sent), fills the form and signs in.
    var form = document.getElementById("login");
    var m = /^#key=(.+)$/.exec(location.hash);
    if (form && m) {
      history.replaceState(null, "", location.pathname + location.search);
      form.elements.key.value = decodeURIComponent(m[1]);
      form.submit();
    }
    // Per-rule activity: fired, errors, muted and dead in the last hour
    // and the last day, as bars.
    var labels = ["fired", "errors", "muted", "dead"];
    document.querySelectorAll(".chart[data-counts]").forEach(function (el) {
      if (typeof uPlot === "undefined") return;
      var c = JSON.parse(el.dataset.counts);
      var bars = uPlot.paths.bars({ size: [0.35, 20], align: 0 });
      new uPlot({
        width: 220, height: 90, legend: { show: false }, cursor: { show: false },
        scales: { x: { time: false, range: [-0.5, 3.5] } },
        axes: [{ splits: function () { return [0, 1, 2, 3]; }, values: function (u, vals) { return vals.map(function (v) { return labels[v] || ""; }); }, size: 24, font: "10px sans-serif" },
               { size: 28, font: "10px sans-serif" }],
        series: [{}, { label: "1h", paths: bars, fill: "#e8590c", stroke: "#e8590c", points: { show: false } },
                     { label: "24h", paths: uPlot.paths.bars({ size: [0.35, 20], align: 1 }), fill: "#1971c2", stroke: "#1971c2", points: { show: false } }]
      }, [[0, 1, 2, 3], c[0], c[1]], el);
    });
  });
})();

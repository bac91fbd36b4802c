// Legend entries toggle the plot elements whose data-o (outcome), data-f
// (operation) or data-fault (fault kind) matches.
(function () {
  "use strict";
  var attr = { o: "data-o", f: "data-f", fault: "data-fault" };
  function update(svg, hidden) {
    var series = svg.querySelectorAll(".series");
    for (var i = 0; i < series.length; i++) {
      var el = series[i], off = false;
      for (var k in attr) {
        var v = el.getAttribute(attr[k]);
        if (v !== null && hidden[k + ":" + v]) { off = true; }
      }
      el.style.display = off ? "none" : "";
    }
  }
  var plots = document.querySelectorAll("svg.plot");
  for (var p = 0; p < plots.length; p++) {
    (function (svg) {
      var hidden = {};
      var items = svg.querySelectorAll(".lg");
      for (var j = 0; j < items.length; j++) {
        (function (item) {
          function toggle() {
            var key = item.getAttribute("data-k") + ":" + item.getAttribute("data-v");
            hidden[key] = !hidden[key];
            item.classList.toggle("off", hidden[key]);
            update(svg, hidden);
          }
          item.addEventListener("click", toggle);
          item.addEventListener("keydown", function (e) {
            if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
          });
        })(items[j]);
      }
    })(plots[p]);
  }
})();

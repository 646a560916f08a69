// Dashboard pages: draw every figure the server rendered into the page.
// Each chart is a <div data-figure="ID"> next to a json_script element ID
// holding {data, layout} from analysis/figures.py. No build step, no CDN:
// plotly.min.js comes from our static files.
(function () {
  "use strict";

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || !window.Plotly) {
      return;
    }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      // The toolbar's camera button saves a PNG named after the chart.
      toImageButtonOptions: { format: "png", filename: element.dataset.filename || "chart", scale: 2 },
      modeBarButtonsToRemove: ["select2d", "lasso2d"],
    });
  }

  document.querySelectorAll("[data-figure]").forEach(draw);
})();

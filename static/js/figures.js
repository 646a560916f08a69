// Draw every figure the server built (analysis/figures.py, inference/figures.py):
// each chart is a <div data-figure="ID"> next to a json_script element ID
// holding {data, layout}. plotly.js comes from our static files, no CDN.
// When htmx swaps in new data (a run's curve while it trains, a comparison
// while its runs finish), the figures whose data changed are drawn again.
// A drawn figure gets data-drawn and a "figure:drawn" event (the embedding
// map in run_detail.js waits for it).
(function () {
  "use strict";

  var drawnFrom = new WeakMap(); // figure element -> the json_script element it was drawn from

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || !window.Plotly || drawnFrom.get(element) === source) return;
    drawnFrom.set(element, source);
    var figure = JSON.parse(source.textContent);
    // Plotly.react draws a new figure or updates one in place (no flicker while a run trains).
    window.Plotly.react(element, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      // The toolbar's camera button saves a PNG named after the chart.
      toImageButtonOptions: { format: "png", filename: element.dataset.filename || "chart", scale: 2 },
      modeBarButtonsToRemove: ["select2d", "lasso2d"],
    }).then(function () {
      if (element.dataset.drawn) return;
      element.dataset.drawn = "1";
      element.dispatchEvent(new CustomEvent("figure:drawn", { bubbles: true }));
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-figure]").forEach(draw);
  }

  drawAll();
  document.addEventListener("htmx:afterSettle", drawAll);
})();

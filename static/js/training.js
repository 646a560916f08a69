// Model pages (templates/inference/): draw the server-built figures, poll a
// running training or prediction run, and make the embedding map clickable.
// Figures are {data, layout} from inference/figures.py in json_script
// elements; plotly.js comes from our static files.
(function () {
  "use strict";

  var FINISHED = ["succeeded", "failed", "cancelled"];
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || !window.Plotly) return;
    var figure = JSON.parse(source.textContent);
    var options = Object.assign({}, config, {
      toImageButtonOptions: { format: "png", filename: element.dataset.filename || "chart", scale: 2 },
    });
    window.Plotly.newPlot(element, figure.data, figure.layout, options).then(function () {
      if (element.dataset.map) wireMap(element);
    });
  }

  // The hovered item's lines (id, text, gold, suggestion) as plain text:
  // item ids and texts are other people's data, so never innerHTML.
  function showCaption(caption, lines) {
    caption.replaceChildren();
    lines.forEach(function (line, i) {
      if (i) caption.appendChild(document.createElement("br"));
      var node = document.createElement(i ? "span" : "strong");
      node.textContent = String(line);
      caption.appendChild(node);
    });
  }

  // Embedding map: hover shows the item's thumbnail, click opens the item.
  function wireMap(element) {
    var preview = document.getElementById("map-preview");
    var thumb = document.getElementById("map-thumb");
    var caption = document.getElementById("map-caption");
    element.on("plotly_hover", function (event) {
      var point = event.points[0];
      if (!point || !point.customdata || !preview) return;
      var src = point.customdata[1];
      thumb.hidden = !src;
      if (src) thumb.src = src;
      showCaption(caption, point.customdata[2] || []);
      preview.hidden = false;
    });
    element.on("plotly_click", function (event) {
      var point = event.points[0];
      if (point && point.customdata && point.customdata[0]) window.location.href = point.customdata[0];
    });
  }

  async function fetchJson(url) {
    var response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(response.statusText);
    return response.json();
  }

  // A training run: progress bar, phase, curve; reload once it has finished
  // so the page shows its scores, confusion matrices and map.
  function pollRun(box) {
    if (FINISHED.indexOf(box.dataset.status) >= 0) return;
    var bar = document.getElementById("run-bar");
    var status = document.getElementById("run-status-text");
    var epochs = document.getElementById("run-epochs");
    var phase = document.getElementById("run-phase");
    var curve = document.getElementById("run-curve");
    async function poll() {
      try {
        var run = await fetchJson(box.dataset.pollUrl);
        bar.style.width = Math.round(100 * (run.progress || 0)) + "%";
        status.textContent = run.status_display;
        epochs.textContent = run.epochs_total ? "epoch " + run.epoch + " of " + run.epochs_total : "";
        phase.textContent = run.phase || "";
        if (curve && window.Plotly && run.curve) window.Plotly.react(curve, run.curve.data, run.curve.layout, config);
        if (run.finished) { window.location.reload(); return; }
      } catch (e) { /* transient: try again */ }
      setTimeout(poll, 1500);
    }
    setTimeout(poll, 1000);
  }

  // Prediction runs listed in a table: one row each.
  function pollPrediction(row) {
    if (FINISHED.indexOf(row.dataset.status) >= 0) return;
    var bar = row.querySelector("[data-role=bar]");
    var count = row.querySelector("[data-role=count]");
    var status = row.querySelector("[data-role=status]");
    async function poll() {
      try {
        var run = await fetchJson(row.dataset.predictionPoll);
        bar.style.width = Math.round(100 * (run.progress || 0)) + "%";
        count.textContent = run.items_done + " / " + run.items_total;
        status.textContent = run.status_display;
        if (run.finished) { window.location.reload(); return; }
      } catch (e) { /* transient: try again */ }
      setTimeout(poll, 2000);
    }
    setTimeout(poll, 1500);
  }

  document.querySelectorAll("[data-figure]").forEach(draw);
  var runBox = document.getElementById("run-status");
  if (runBox) pollRun(runBox);
  document.querySelectorAll("[data-prediction-poll]").forEach(pollPrediction);
  if (document.querySelector("[data-reload-while-running]")) setTimeout(function () { window.location.reload(); }, 5000);
})();

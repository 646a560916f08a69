// A training run's page (templates/inference/run_detail.html): the embedding
// map shows the hovered item's thumbnail and lines, and a click opens the
// item. figures.js draws the map; its progress block is an htmx partial.
(function () {
  "use strict";

  var map = document.querySelector("[data-map]");
  if (!map) return;

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

  function wireMap() {
    var preview = document.getElementById("map-preview");
    var thumb = document.getElementById("map-thumb");
    var caption = document.getElementById("map-caption");
    map.on("plotly_hover", function (event) {
      var point = event.points[0];
      if (!point || !point.customdata || !preview) return;
      var src = point.customdata[1];
      thumb.hidden = !src;
      if (src) thumb.src = src;
      showCaption(caption, point.customdata[2] || []);
      preview.hidden = false;
    });
    map.on("plotly_click", function (event) {
      var point = event.points[0];
      if (point && point.customdata && point.customdata[0]) window.location.href = point.customdata[0];
    });
  }

  if (map.dataset.drawn) wireMap();
  else map.addEventListener("figure:drawn", wireMap, { once: true });
})();

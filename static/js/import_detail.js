// Poll the import job while it runs; reload once it settles so the page shows its result.
(function () {
  const box = document.getElementById("import-status");
  if (!box) return;
  const running = ["queued", "validating", "running"];
  if (!running.includes(box.dataset.status)) return;
  const bar = document.getElementById("import-bar");
  const rows = document.getElementById("import-rows");
  async function poll() {
    try {
      const response = await fetch(box.dataset.pollUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.statusText);
      const p = await response.json();
      bar.style.width = (p.percent || 0) + "%";
      rows.textContent = `${p.rows_done} / ${p.rows_total} rows`;
      if (!running.includes(p.status)) { window.location.reload(); return; }
    } catch (e) { /* transient: try again */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();

// The labelling page: keyboard-first, no reload between items.
// The item after the current one is claimed and fetched while the current
// one is on screen; Enter shows it at once and saves the current labels in
// the background (retried with the same key, so a retry never duplicates).
(function () {
  "use strict";
  const root = document.getElementById("annotate");
  if (!root) return;
  const config = JSON.parse(document.getElementById("annotate-config").textContent);
  const start = JSON.parse(document.getElementById("annotate-start").textContent);
  const progress = JSON.parse(document.getElementById("annotate-progress").textContent);
  const csrf = root.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  const el = {
    workspace: $("workspace"), done: $("done"), message: $("message"),
    image: $("item-image"), imageButton: $("image-button"), imageAbsent: $("image-absent"),
    text: $("item-text"), textAbsent: $("text-absent"), order: $("order"),
    submit: $("submit-btn"), hint: $("submit-hint"), timer: $("timer"), round: $("round-badge"), itemId: $("item-id"),
    skipBox: $("skip-box"), skipReason: $("skip-reason"), guidelines: $("guidelines"), guidelinesBtn: $("guidelines-btn"),
    zoom: $("zoom"), zoomImage: $("zoom-image"), editBanner: $("edit-banner"),
  };
  const tasks = config.tasks;
  const taskByKey = Object.fromEntries(tasks.map((t) => [t.key, t]));
  const hotkeys = {};
  tasks.forEach((t) => t.labels.forEach((l) => { if (l.hotkey) hotkeys[l.hotkey.toLowerCase()] = [t.key, l.key]; }));
  const ROUND_NAMES = { text: "Text only", image: "Image only", multimodal: "Text and image" };

  // ---- state
  let view = null;        // what is on screen: {mode: "work"|"edit", item, round, suggestions?, annotation?}
  let work = null;        // the claimed item (kept while editing an older annotation)
  let ahead = null;       // Promise of the next claim's payload (or null: nothing left)
  let pendingSubmit = Promise.resolve();
  let moving = false;     // between Enter and the next item on screen: further Enters are ignored
  let chosen = {};        // task key -> label key
  let order = [];         // task keys, in the order first answered (then as reordered)
  let cursor = 0;         // selected chip of the order
  let clientKey = null;
  let suggestionsShown = false;
  const timer = { elapsed: 0, since: null };
  let workTimer = null;   // the claimed item's time, kept while editing

  // ---- http
  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText || "The server refused the request.");
      error.status = response.status;
      throw error;
    }
    return data;
  }
  const urlFor = (name, id) => config.urls[name].replace(config.placeholder, String(id));
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- messages, progress, timer
  function say(text, kind) {
    el.message.textContent = text;
    el.message.className = "annotate-message " + (kind || "");
    el.message.hidden = !text;
  }
  function drawProgress() {
    const pct = (a, b) => (b ? Math.min(100, (100 * a) / b) : 0) + "%";
    $("mine-bar").style.width = pct(progress.mine_done, progress.mine_share);
    $("project-bar").style.width = pct(progress.project_done, progress.project_total);
    $("mine-count").textContent = `${progress.mine_done} / ${progress.mine_share}`;
    $("project-count").textContent = `${progress.project_done} / ${progress.project_total}`;
  }
  const now = () => performance.now();
  function timerReset(elapsed) { timer.elapsed = elapsed || 0; timer.since = document.hidden ? null : now(); }
  function timerValue() { return Math.round(timer.elapsed + (timer.since === null ? 0 : now() - timer.since)); }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { if (timer.since !== null) { timer.elapsed += now() - timer.since; timer.since = null; } }
    else if (timer.since === null) { timer.since = now(); }
  });
  setInterval(() => {
    const s = Math.floor(timerValue() / 1000);
    el.timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }, 500);

  // ---- rendering
  function showItem(item) {
    el.itemId.textContent = item.external_id;
    el.round.hidden = !config.unimodal_rounds;
    el.round.textContent = ROUND_NAMES[item.round] || item.round;
    if (item.image_url) {
      el.image.src = item.image_url;
      el.imageButton.hidden = false;
      el.imageAbsent.hidden = true;
    } else {
      el.image.removeAttribute("src");
      el.imageButton.hidden = true;
      el.imageAbsent.hidden = false;
      el.imageAbsent.textContent = item.hidden === "image"
        ? "The image is hidden in this round: label from the text alone."
        : "This item has no image.";
    }
    if (item.text !== null && item.text !== undefined) {
      el.text.textContent = item.text;
      el.text.hidden = false;
      el.textAbsent.hidden = true;
    } else {
      el.text.textContent = "";
      el.text.hidden = true;
      el.textAbsent.hidden = false;
      el.textAbsent.textContent = item.hidden === "text"
        ? "The text is hidden in this round: label from the image alone."
        : "This item has no text.";
    }
  }

  function drawLabels() {
    root.querySelectorAll(".label-btn").forEach((b) => {
      const on = chosen[b.dataset.task] === b.dataset.label;
      b.classList.toggle("chosen", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    const suggestions = view && view.suggestions;
    const reveal = suggestions && (!suggestions.after_first_choice || order.length > 0);
    suggestionsShown = suggestionsShown || Boolean(reveal);
    root.querySelectorAll(".label-btn .suggestion").forEach((span) => {
      const b = span.parentElement;
      const s = reveal && suggestions.by_task[b.dataset.task];
      const here = s && s.label === b.dataset.label;
      span.hidden = !here;
      b.classList.toggle("suggested", Boolean(here));
      span.textContent = here ? `model ${Math.round(s.probability * 100)}%` : "";
    });
    drawOrder();
    const missing = missingTasks();
    const frozen = view && view.mode === "edit" && !view.annotation.editable;
    el.submit.disabled = missing.length > 0 || frozen;
    el.hint.textContent = frozen ? "" : missing.length ? `Choose ${missing.map((k) => taskByKey[k].name).join(", ")}.` : "Ready: press Enter.";
  }

  function drawOrder() {
    if (!el.order) return;
    el.order.textContent = "";
    cursor = Math.max(0, Math.min(cursor, order.length - 1));
    order.forEach((key, i) => {
      const li = document.createElement("li");
      li.className = "chip" + (i === cursor ? " selected" : "");
      li.textContent = taskByKey[key].name;
      li.dataset.task = key;
      li.draggable = true;
      li.addEventListener("click", () => { cursor = i; drawOrder(); });
      li.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(i)); });
      li.addEventListener("dragover", (e) => e.preventDefault());
      li.addEventListener("drop", (e) => {
        e.preventDefault();
        const from = Number(e.dataTransfer.getData("text/plain"));
        const [moved] = order.splice(from, 1);
        order.splice(i, 0, moved);
        cursor = i;
        drawOrder();
      });
      el.order.appendChild(li);
    });
  }

  function missingTasks() {
    return tasks.filter((t) => t.required && !chosen[t.key]).map((t) => t.key);
  }

  function present(payload, mode) {
    view = { ...payload, mode };
    el.workspace.hidden = false;
    el.done.hidden = true;
    closeSkip();
    showItem(payload.item);
    if (mode === "edit") {
      chosen = { ...payload.annotation.labels };
      order = (payload.annotation.inference_order || []).slice();
      tasks.forEach((t) => { if (chosen[t.key] && !order.includes(t.key)) order.push(t.key); });
      el.editBanner.hidden = false;
      $("edit-item").textContent = payload.item.external_id;
      $("edit-round").textContent = (ROUND_NAMES[payload.round] || payload.round).toLowerCase();
      $("edit-frozen").hidden = payload.annotation.editable;
    } else {
      chosen = {};
      order = [];
      clientKey = uuid4();
      suggestionsShown = false;
      el.editBanner.hidden = true;
      if (payload.previously_skipped) say("You skipped this item before; it is back because nothing else is left for you.", "info");
    }
    cursor = Math.max(0, order.length - 1);
    drawLabels();
  }

  function showDone() {
    view = null;
    work = null;
    el.workspace.hidden = true;
    el.editBanner.hidden = true;
    el.done.hidden = false;
  }

  // ---- the queue
  // `ahead` is set synchronously whenever a new item goes on screen, and
  // only asks the server once the previous submit is answered: a fast
  // annotator pressing Enter again meanwhile waits for it instead of
  // asking while the server still counts the last item as held.
  function fetchAhead(after) {
    const current = work ? work.item.id : null;
    ahead = Promise.resolve(after)
      .then(() => api("POST", config.urls.next, { current_item: current }))
      .then((data) => data.work);
    ahead.catch(() => {}); // reported when used
  }

  async function moveToNext() {
    moving = true;
    try { await showNext(); } finally { moving = false; }
  }

  async function showNext() {
    const waiting = ahead || pendingSubmit.then(() => api("POST", config.urls.next, {})).then((data) => data.work);
    ahead = null;
    let next = null;
    try {
      next = await waiting;
      if (!next) {
        // Fetched ahead before the last submit, "nothing left" may be stale:
        // in unimodal rounds that submit opens the item's next round.
        await pendingSubmit;
        next = (await api("POST", config.urls.next, {})).work;
      }
    } catch (e) {
      say(`Could not fetch the next item: ${e.message}. Press Enter to try again.`, "error");
      return;
    }
    if (!next) { showDone(); return; }
    work = next;
    timerReset(0);
    present(next, "work");
    fetchAhead(pendingSubmit);
  }

  async function postWithRetry(url, body) {
    let wait = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        return await api("POST", url, body);
      } catch (e) {
        // Network errors and 5xx are retried with the same key; a refusal is final.
        if ((e.status && e.status < 500) || attempt >= 6) throw e;
        await new Promise((r) => setTimeout(r, wait));
        wait *= 2;
      }
    }
  }

  function submit() {
    if (!view || moving) return;
    const missing = missingTasks();
    if (missing.length) { say(`Choose a label for ${missing.map((k) => taskByKey[k].name).join(", ")} first.`, "error"); return; }
    if (view.mode === "edit") { saveEdit(); return; }
    const item = view.item;
    const body = {
      round: view.round,
      labels: { ...chosen },
      inference_order: config.ask_inference_order ? order.slice() : [],
      duration_ms: timerValue(),
      client_key: clientKey,
      suggestion_run: view.suggestions && suggestionsShown ? view.suggestions.run : null,
    };
    say("");
    pendingSubmit = postWithRetry(urlFor("submit", item.id), body).then((data) => {
      if (data.created) {
        progress.mine_done += 1;
        if (data.item_complete && data.round === "multimodal") progress.project_done += 1;
        drawProgress();
      }
    }).catch((e) => {
      say(`Your labels for ${item.external_id} were not saved: ${e.message}`, "error");
    });
    moveToNext();
  }

  async function saveEdit() {
    const annotation = view.annotation;
    if (!annotation.editable) return;
    try {
      await api("PATCH", urlFor("annotation", annotation.id), {
        labels: { ...chosen }, inference_order: config.ask_inference_order ? order.slice() : null,
      });
    } catch (e) {
      say(`Your change was not saved: ${e.message}`, "error");
      return;
    }
    say(`Your change to ${view.item.external_id} was saved.`, "ok");
    returnToWork();
  }

  function returnToWork() {
    if (work) {
      const keep = { chosen: workState.chosen, order: workState.order, cursor: workState.cursor, key: workState.key };
      present(work, "work");
      chosen = keep.chosen || {};
      order = keep.order || [];
      cursor = keep.cursor || 0;
      clientKey = keep.key || clientKey;
      timerReset(workTimer || 0);
      drawLabels();
    } else if (ahead) {
      moveToNext();
    } else {
      showDone();
    }
  }

  // The claimed item's unfinished choices, kept while the annotator looks back.
  const workState = {};
  function stashWork() {
    if (view && view.mode === "work") {
      Object.assign(workState, { chosen: { ...chosen }, order: order.slice(), cursor, key: clientKey });
      workTimer = timerValue();
    }
  }

  async function stepBack() {
    const before = view && view.mode === "edit" ? view.annotation.id : null;
    const url = config.urls.step + (before ? `?before=${before}` : "");
    try {
      const payload = await api("GET", url);
      stashWork();
      present(payload, "edit");
      timerReset(0);
      say("");
    } catch (e) {
      say(e.status === 404 ? "There is nothing earlier to go back to." : `Could not go back: ${e.message}`, e.status === 404 ? "info" : "error");
    }
  }

  async function stepForward() {
    if (!view || view.mode !== "edit") return;
    try {
      const payload = await api("GET", `${config.urls.step}?after=${view.annotation.id}`);
      present(payload, "edit");
    } catch (e) {
      if (e.status !== 404) { say(`Could not go forward: ${e.message}`, "error"); return; }
      say("");
      returnToWork();
    }
  }

  // ---- skip
  function openSkip() {
    if (!view || view.mode !== "work") return;
    el.skipBox.hidden = false;
    el.skipReason.value = "";
    el.skipReason.focus();
  }
  function closeSkip() { el.skipBox.hidden = true; if (document.activeElement === el.skipReason) el.skipReason.blur(); }
  async function skip() {
    const item = view.item;
    const reason = el.skipReason.value;
    closeSkip();
    try {
      await postWithRetry(urlFor("skip", item.id), { round: view.round, reason });
    } catch (e) {
      say(`Could not skip ${item.external_id}: ${e.message}`, "error");
      return;
    }
    say(`Skipped ${item.external_id}.`, "info");
    work = null;
    moveToNext();
  }

  // ---- choosing and ordering
  function choose(taskKey, labelKey) {
    if (!view) return;
    if (view.mode === "edit" && !view.annotation.editable) return;
    chosen[taskKey] = labelKey;
    if (!order.includes(taskKey)) { order.push(taskKey); cursor = order.length - 1; }
    drawLabels();
  }
  function moveChip(delta) {
    const to = cursor + delta;
    if (to < 0 || to >= order.length) return;
    [order[cursor], order[to]] = [order[to], order[cursor]];
    cursor = to;
    drawOrder();
  }

  // ---- image zoom, guidelines
  function toggleZoom() {
    if (el.zoom.open) { el.zoom.close(); return; }
    if (el.imageButton.hidden) return;
    el.zoomImage.src = el.image.src;
    el.zoom.showModal();
  }
  function toggleGuidelines() {
    el.guidelines.hidden = !el.guidelines.hidden;
    el.guidelinesBtn.setAttribute("aria-expanded", el.guidelines.hidden ? "false" : "true");
    if (!el.guidelines.hidden) el.guidelines.scrollIntoView({ block: "nearest" });
  }

  // ---- wiring
  root.querySelectorAll(".label-btn").forEach((b) => b.addEventListener("click", () => choose(b.dataset.task, b.dataset.label)));
  el.submit.addEventListener("click", submit);
  $("skip-btn").addEventListener("click", openSkip);
  $("skip-cancel").addEventListener("click", closeSkip);
  el.skipBox.addEventListener("submit", (e) => { e.preventDefault(); skip(); });
  $("back-btn").addEventListener("click", stepBack);
  $("forward-btn").addEventListener("click", stepForward);
  el.guidelinesBtn.addEventListener("click", toggleGuidelines);
  el.imageButton.addEventListener("click", toggleZoom);

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target === el.skipReason) {
      if (e.key === "Escape") { e.preventDefault(); closeSkip(); }
      return; // Enter submits the skip form
    }
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement) return;
    if (el.zoom.open && e.key !== " " && e.key !== "Escape") return;
    const key = e.key;
    let handled = true;
    if (key === "Enter") submit();
    else if (key === "/") openSkip();
    else if (key === "<") stepBack();
    else if (key === ">") stepForward();
    else if (key === "[") moveChip(-1);
    else if (key === "]") moveChip(1);
    else if (key === "ArrowLeft" && el.order) { cursor = Math.max(0, cursor - 1); drawOrder(); }
    else if (key === "ArrowRight" && el.order) { cursor = Math.min(order.length - 1, cursor + 1); drawOrder(); }
    else if (key === "?") toggleGuidelines();
    else if (key === " ") toggleZoom();
    else if (key === "Escape") { if (!el.guidelines.hidden) toggleGuidelines(); }
    else if (hotkeys[key.toLowerCase()]) choose(...hotkeys[key.toLowerCase()]);
    else handled = false;
    if (handled) e.preventDefault();
  });

  // Keep the leases alive while the annotator is here and active.
  let lastActivity = Date.now();
  ["keydown", "pointerdown"].forEach((t) => document.addEventListener(t, () => { lastActivity = Date.now(); }));
  setInterval(() => {
    if (document.hidden || !work) return;
    if (Date.now() - lastActivity > config.claim_minutes * 60000) return; // idle: let the claims lapse
    api("POST", config.urls.heartbeat).catch(() => {});
  }, config.heartbeat_seconds * 1000);

  // ---- start
  drawProgress();
  if (start.mode === "work") {
    work = start;
    timerReset(0);
    present(start, "work");
    fetchAhead(null);
  } else if (start.mode === "edit") {
    timerReset(0);
    present(start, "edit");
    fetchAhead(null);
  } else {
    showDone();
  }
  root.dataset.ready = "1"; // for browser tests: handlers are in place
})();

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
  const csrf = root.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  const el = {
    workspace: $("workspace"), done: $("done"), message: $("message"),
    image: $("item-image"), imageButton: $("image-button"), imageAbsent: $("image-absent"),
    text: $("item-text"), textAbsent: $("text-absent"), order: $("order"),
    submit: $("submit-btn"), hint: $("submit-hint"), timer: $("timer"), round: $("round-badge"), itemId: $("item-id"),
    skipBox: $("skip-box"), skipReason: $("skip-reason"), guidelines: $("guidelines"), guidelinesBtn: $("guidelines-btn"),
    zoom: $("zoom"), zoomImage: $("zoom-image"), editBanner: $("edit-banner"),
    head: root.querySelector(".annotate-head"), imagePane: $("pane-image"), textPane: $("pane-text"), submitLabel: $("submit-label"),
  };
  const tasks = config.tasks;
  const taskByKey = Object.fromEntries(tasks.map((t) => [t.key, t]));
  const hotkeys = {};
  tasks.forEach((t) => t.labels.forEach((l) => { if (l.hotkey) hotkeys[l.hotkey.toLowerCase()] = [t.key, l.key]; }));
  const ROUND_NAMES = { text: "Text only", image: "Image only", multimodal: "Text and image" };

  // ---- state: everything that changes, in one place (the rest of this
  // closure is constant: the page's config, elements and hotkeys)
  const state = {
    progress: JSON.parse(document.getElementById("annotate-progress").textContent), // counts in the bar
    view: null,       // what is on screen: {mode: "work"|"edit", item, round, suggestions?, annotation?}
    work: null,       // the claimed item (kept while editing an older annotation)
    ahead: null,      // Promise of the next claim's payload (or null: nothing left)
    pendingSubmit: Promise.resolve(),
    moving: false,    // between Enter and the next item on screen: further Enters are ignored
    chosen: {},       // task key -> label key
    order: [],        // task keys, in the order first answered (then as reordered)
    cursor: 0,        // selected chip of the order
    clientKey: null,  // idempotency key of the current item's submit
    suggestionsShown: false,
    history: [],      // earlier {chosen, order, cursor} of this item, for Ctrl+Z
    timer: { elapsed: 0, since: null },
    stash: null,      // the claimed item's unfinished choices and time, kept while looking back
    newestId: null,   // the newest own annotation, reached by the first step back: Forward from it needs no request
    lastActivity: Date.now(),
    messageTimer: null,
  };

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
  // A toast (role=status) at the top of the viewport: seen whatever the
  // scroll. Errors stay until the next message; the rest fade after a while.
  function say(text, kind) {
    clearTimeout(state.messageTimer);
    delete el.message.dataset.feedback;
    el.message.textContent = text;
    el.message.className = "annotate-toast " + (kind || "");
    el.message.hidden = !text;
    if (text && kind !== "error") state.messageTimer = setTimeout(() => { el.message.hidden = true; }, 6000);
  }
  // Only in projects that give feedback, and only after submitting a control
  // item: whether the labels matched its known answers (names via textContent).
  function sayControlFeedback(item, feedback) {
    const parts = Object.entries(feedback).map(([key, result]) => {
      const name = taskByKey[key] ? taskByKey[key].name : key;
      return result.matched ? `${name}: matched` : `${name}: the known answer is ${result.answer}`;
    });
    if (!parts.length) return;
    const all = Object.values(feedback).every((result) => result.matched);
    say(`${item.external_id} was a check item. ${parts.join("; ")}.`, all ? "ok" : "");
    el.message.dataset.feedback = all ? "matched" : "missed";
  }
  function drawProgress() {
    const pct = (a, b) => (b ? Math.min(100, (100 * a) / b) : 0) + "%";
    $("mine-bar").style.width = pct(state.progress.mine_done, state.progress.mine_share);
    $("project-bar").style.width = pct(state.progress.project_done, state.progress.project_total);
    $("mine-count").textContent = `${state.progress.mine_done} / ${state.progress.mine_share}`;
    $("project-count").textContent = `${state.progress.project_done} / ${state.progress.project_total}`;
  }
  const now = () => performance.now();
  // The time on the current item counts only while the page is visible.
  function timerReset(elapsed) { state.timer = { elapsed: elapsed || 0, since: document.hidden ? null : now() }; }
  function timerValue() {
    const { elapsed, since } = state.timer;
    return Math.round(elapsed + (since === null ? 0 : now() - since));
  }
  document.addEventListener("visibilitychange", () => {
    const timer = state.timer;
    if (document.hidden) { if (timer.since !== null) { timer.elapsed += now() - timer.since; timer.since = null; } }
    else if (timer.since === null) { timer.since = now(); }
  });
  setInterval(() => {
    const s = Math.floor(timerValue() / 1000);
    el.timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }, 500);

  // ---- rendering
  // The item column is as tall as the screen below what sits above it (the
  // site header, the bar, the edit banner), measured rather than guessed:
  // the header wraps differently for leads and long project names.
  function fitToScreen() {
    if (el.workspace.hidden) return;
    const above = el.workspace.getBoundingClientRect().top + window.scrollY;
    root.style.setProperty("--above", `${Math.round(above)}px`);
    root.style.setProperty("--head", `${Math.round(el.head.getBoundingClientRect().height)}px`);
  }
  window.addEventListener("resize", fitToScreen);

  function showItem(item) {
    el.itemId.textContent = item.external_id;
    el.round.hidden = !config.unimodal_rounds;
    el.round.textContent = ROUND_NAMES[item.round] || item.round;
    if (item.image_url) {
      el.image.src = item.image_url;
      el.imageButton.hidden = false;
      el.imagePane.hidden = false;
      el.imageAbsent.hidden = true;
    } else {
      // No image pane at all: a one-line note, so the text gets the room.
      el.image.removeAttribute("src");
      el.imageButton.hidden = true;
      el.imagePane.hidden = true;
      el.imageAbsent.hidden = false;
      el.imageAbsent.textContent = item.hidden === "image"
        ? "The image is hidden in this round: label from the text alone."
        : "This item has no image.";
    }
    if (item.text !== null && item.text !== undefined) {
      el.text.textContent = item.text;
      el.text.hidden = false;
      el.textPane.hidden = false;
      el.textAbsent.hidden = true;
    } else {
      el.text.textContent = "";
      el.text.hidden = true;
      el.textPane.hidden = true;
      el.textAbsent.hidden = false;
      el.textAbsent.textContent = item.hidden === "text"
        ? "The text is hidden in this round: label from the image alone."
        : "This item has no text.";
    }
  }

  function revealedSuggestions() {
    const suggestions = state.view && state.view.suggestions;
    return suggestions && (!suggestions.after_first_choice || state.order.length > 0) ? suggestions : null;
  }

  function drawLabels() {
    labelButtons.forEach((b) => {
      const on = state.chosen[b.dataset.task] === b.dataset.label;
      b.classList.toggle("chosen", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    const reveal = revealedSuggestions();
    state.suggestionsShown = state.suggestionsShown || Boolean(reveal);
    root.querySelectorAll(".label-btn .suggestion").forEach((span) => {
      const b = span.parentElement;
      const s = reveal && reveal.by_task[b.dataset.task];
      const here = s && s.label === b.dataset.label;
      span.hidden = !here;
      b.classList.toggle("suggested", Boolean(here));
      span.textContent = here ? `model ${Math.round(s.probability * 100)}%` : "";
    });
    tasks.forEach((t) => describe(t.key, null));
    drawOrder();
    const missing = missingTasks();
    const view = state.view;
    const frozen = view && view.mode === "edit" && !view.annotation.editable;
    el.submit.disabled = missing.length > 0 || frozen;
    const acceptable = reveal && tasks.some((t) => reveal.by_task[t.key] && state.chosen[t.key] !== reveal.by_task[t.key].label);
    el.hint.textContent = frozen ? "" : (missing.length ? `Choose ${missing.map((k) => taskByKey[k].name).join(", ")}.`
      : view && view.mode === "edit" ? "Ready: press Enter to save the change." : "Ready: press Enter.")
      + (acceptable && missing.length ? " Shift+A accepts the model's suggestions." : "");
  }

  // The description line under a task: the focused (or pointed at) label's,
  // else the chosen label's, so keyboard users read what a label means.
  function describe(taskKey, button) {
    const line = descLines[taskKey];
    if (!line) return;
    const shown = button || labelButtons.find((b) => b.dataset.task === taskKey && b.classList.contains("chosen"));
    if (!shown) { line.textContent = ""; return; }
    const label = taskByKey[taskKey].labels.find((l) => l.key === shown.dataset.label);
    line.textContent = `${label ? label.name : shown.dataset.label}: ${shown.dataset.description || "no description."}`;
  }

  function drawOrder() {
    if (!el.order) return;
    el.order.textContent = "";
    state.cursor = Math.max(0, Math.min(state.cursor, state.order.length - 1));
    state.order.forEach((key, i) => {
      const li = document.createElement("li");
      li.className = "chip" + (i === state.cursor ? " selected" : "");
      li.textContent = taskByKey[key].name;
      li.dataset.task = key;
      li.draggable = true;
      li.addEventListener("click", () => { state.cursor = i; drawOrder(); });
      li.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(i)); });
      li.addEventListener("dragover", (e) => e.preventDefault());
      li.addEventListener("drop", (e) => {
        e.preventDefault();
        const from = Number(e.dataTransfer.getData("text/plain"));
        const [moved] = state.order.splice(from, 1);
        state.order.splice(i, 0, moved);
        state.cursor = i;
        drawOrder();
      });
      el.order.appendChild(li);
    });
  }

  function missingTasks() {
    return tasks.filter((t) => t.required && !state.chosen[t.key]).map((t) => t.key);
  }

  function present(payload, mode) {
    state.view = { ...payload, mode };
    state.history = [];
    el.workspace.hidden = false;
    el.done.hidden = true;
    closeSkip();
    showItem(payload.item);
    const editing = mode === "edit";
    root.classList.toggle("editing", editing);
    el.editBanner.hidden = !editing;
    el.submitLabel.textContent = editing ? "Save change" : "Submit";
    if (editing) {
      state.chosen = { ...payload.annotation.labels };
      state.order = (payload.annotation.inference_order || []).slice();
      tasks.forEach((t) => { if (state.chosen[t.key] && !state.order.includes(t.key)) state.order.push(t.key); });
      $("edit-item").textContent = payload.item.external_id;
      $("edit-round").textContent = (ROUND_NAMES[payload.round] || payload.round).toLowerCase();
      $("edit-frozen").hidden = payload.annotation.editable;
    } else {
      state.chosen = {};
      state.order = [];
      state.clientKey = uuid4();
      state.suggestionsShown = false;
      if (payload.previously_skipped) say("You skipped this item before; it is back because nothing else is left for you.", "info");
    }
    state.cursor = Math.max(0, state.order.length - 1);
    drawLabels();
    // One column (a tablet): a new item starts with its image and text in view, not the previous scroll.
    if (window.scrollY > 0) window.scrollTo(0, 0);
    fitToScreen();
  }

  function showDone() {
    state.view = null;
    state.work = null;
    el.workspace.hidden = true;
    el.editBanner.hidden = true;
    root.classList.remove("editing");
    el.done.hidden = false;
  }

  // ---- the queue
  // `ahead` is set synchronously whenever a new item goes on screen, and
  // only asks the server once the previous submit is answered: a fast
  // annotator pressing Enter again meanwhile waits for it instead of
  // asking while the server still counts the last item as held.
  function fetchAhead(after) {
    const current = state.work ? state.work.item.id : null;
    state.ahead = Promise.resolve(after)
      .then(() => api("POST", config.urls.next, { current_item: current }))
      .then((data) => data.work);
    state.ahead.catch(() => {}); // reported when used
  }

  async function moveToNext() {
    state.moving = true;
    try { await showNext(); } finally { state.moving = false; }
  }

  async function showNext() {
    const waiting = state.ahead || state.pendingSubmit.then(() => api("POST", config.urls.next, {})).then((data) => data.work);
    state.ahead = null;
    let next = null;
    try {
      next = await waiting;
      if (!next) {
        // Fetched ahead before the last submit, "nothing left" may be stale:
        // in unimodal rounds that submit opens the item's next round.
        await state.pendingSubmit;
        next = (await api("POST", config.urls.next, {})).work;
      }
    } catch (e) {
      say(`Could not fetch the next item: ${e.message}. Press Enter to try again.`, "error");
      return;
    }
    if (!next) { showDone(); return; }
    state.work = next;
    timerReset(0);
    present(next, "work");
    fetchAhead(state.pendingSubmit);
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
    const view = state.view;
    if (!view || state.moving) return;
    const missing = missingTasks();
    if (missing.length) { say(`Choose a label for ${missing.map((k) => taskByKey[k].name).join(", ")} first.`, "error"); return; }
    if (view.mode === "edit") { saveEdit(); return; }
    const item = view.item;
    const body = {
      round: view.round,
      labels: { ...state.chosen },
      inference_order: config.ask_inference_order ? state.order.slice() : [],
      duration_ms: timerValue(),
      client_key: state.clientKey,
      suggestion_run: view.suggestions && state.suggestionsShown ? view.suggestions.run : null,
    };
    say("");
    state.pendingSubmit = postWithRetry(urlFor("submit", item.id), body).then((data) => {
      if (data.created) {
        state.progress.mine_done += 1;
        if (data.item_complete && data.round === "multimodal") state.progress.project_done += 1;
        drawProgress();
      }
      if (data.control_feedback) sayControlFeedback(item, data.control_feedback);
    }).catch((e) => {
      say(`Your labels for ${item.external_id} were not saved: ${e.message}`, "error");
    });
    moveToNext();
  }

  async function saveEdit() {
    const view = state.view;
    const annotation = view.annotation;
    if (!annotation.editable) return;
    try {
      await api("PATCH", urlFor("annotation", annotation.id), {
        labels: { ...state.chosen }, inference_order: config.ask_inference_order ? state.order.slice() : null,
      });
    } catch (e) {
      say(`Your change was not saved: ${e.message}`, "error");
      return;
    }
    say(`Your change to ${view.item.external_id} was saved.`, "ok");
    returnToWork();
  }

  function returnToWork() {
    if (state.work) {
      const keep = state.stash || {};
      present(state.work, "work");
      state.chosen = keep.chosen || {};
      state.order = keep.order || [];
      state.cursor = keep.cursor || 0;
      state.clientKey = keep.clientKey || state.clientKey;
      state.suggestionsShown = Boolean(keep.suggestionsShown);
      timerReset(keep.elapsed || 0);
      drawLabels();
    } else if (state.ahead) {
      moveToNext();
    } else {
      showDone();
    }
  }

  // The claimed item's unfinished choices, kept while the annotator looks back.
  function stashWork() {
    if (state.view && state.view.mode === "work") {
      state.stash = {
        chosen: { ...state.chosen }, order: state.order.slice(), cursor: state.cursor,
        clientKey: state.clientKey, suggestionsShown: state.suggestionsShown, elapsed: timerValue(),
      };
    }
  }

  // Back and Forward ask the server only when there is something to show:
  // an expected "nothing there" would be a 404 in the console on every
  // return to the queue.
  async function stepBack() {
    const view = state.view;
    const before = view && view.mode === "edit" ? view.annotation.id : null;
    if (before === null) await state.pendingSubmit; // so the latest submit is the newest annotation
    const nothingEarlier = before === null ? state.progress.mine_done === 0 : !view.annotation.has_earlier;
    if (nothingEarlier) { say("There is nothing earlier to go back to.", "info"); return; }
    const url = config.urls.step + (before ? `?before=${before}` : "");
    try {
      const payload = await api("GET", url);
      if (before === null) state.newestId = payload.annotation.id;
      stashWork();
      present(payload, "edit");
      timerReset(0);
      say("");
    } catch (e) {
      say(e.status === 404 ? "There is nothing earlier to go back to." : `Could not go back: ${e.message}`, e.status === 404 ? "info" : "error");
    }
  }

  async function stepForward() {
    const view = state.view;
    if (!view || view.mode !== "edit") return;
    if (view.annotation.id === state.newestId || !view.annotation.has_later) { say(""); returnToWork(); return; }
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
    if (!state.view || state.view.mode !== "work") return;
    el.skipBox.hidden = false;
    el.skipReason.value = "";
    el.skipReason.focus();
  }
  function closeSkip() { el.skipBox.hidden = true; if (document.activeElement === el.skipReason) el.skipReason.blur(); }
  async function skip() {
    const view = state.view;
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
    state.work = null;
    moveToNext();
  }

  // ---- choosing, undoing and ordering
  function editable() {
    const view = state.view;
    return Boolean(view) && !(view.mode === "edit" && !view.annotation.editable);
  }
  function remember() {
    state.history.push({ chosen: { ...state.chosen }, order: state.order.slice(), cursor: state.cursor });
  }
  function setChoice(taskKey, labelKey) {
    state.chosen[taskKey] = labelKey;
    if (!state.order.includes(taskKey)) { state.order.push(taskKey); state.cursor = state.order.length - 1; }
  }
  function choose(taskKey, labelKey) {
    if (!editable()) return;
    if (state.chosen[taskKey] === labelKey) return;
    remember();
    setChoice(taskKey, labelKey);
    drawLabels();
  }
  function acceptSuggestions() {
    if (!editable()) return;
    const shown = revealedSuggestions();
    if (!shown) {
      say(state.view.suggestions ? "Suggestions show after your own first choice." : "There are no model suggestions for this item.", "info");
      return;
    }
    const picks = tasks.filter((t) => shown.by_task[t.key] && t.labels.some((l) => l.key === shown.by_task[t.key].label)
      && state.chosen[t.key] !== shown.by_task[t.key].label);
    if (!picks.length) return;
    remember();
    picks.forEach((t) => setChoice(t.key, shown.by_task[t.key].label));
    drawLabels();
  }
  function undo() {
    if (!editable()) return;
    const last = state.history.pop();
    if (!last) { say("Nothing to undo on this item.", "info"); return; }
    Object.assign(state, last);
    drawLabels();
  }
  function moveChip(delta) {
    const to = state.cursor + delta;
    if (to < 0 || to >= state.order.length) return;
    [state.order[state.cursor], state.order[to]] = [state.order[to], state.order[state.cursor]];
    state.cursor = to;
    drawOrder();
  }
  function moveCursor(delta) {
    if (!el.order) return;
    state.cursor = Math.max(0, Math.min(state.order.length - 1, state.cursor + delta));
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
    const open = el.guidelines.hidden;
    el.guidelines.hidden = !open;
    root.classList.toggle("with-guidelines", open);
    el.guidelinesBtn.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      const box = el.guidelines.getBoundingClientRect();
      if (box.top > window.innerHeight || box.bottom < 0) el.guidelines.scrollIntoView({ block: "nearest" });
    }
  }

  // ---- wiring
  const labelButtons = [...root.querySelectorAll(".label-btn")];
  const descLines = Object.fromEntries([...root.querySelectorAll(".label-desc")].map((p) => [p.dataset.task, p]));
  labelButtons.forEach((b) => {
    b.addEventListener("click", () => choose(b.dataset.task, b.dataset.label));
    ["focus", "mouseenter"].forEach((t) => b.addEventListener(t, () => describe(b.dataset.task, b)));
    ["blur", "mouseleave"].forEach((t) => b.addEventListener(t, () => describe(b.dataset.task, null)));
  });
  el.submit.addEventListener("click", submit);
  $("skip-btn").addEventListener("click", openSkip);
  $("skip-cancel").addEventListener("click", closeSkip);
  el.skipBox.addEventListener("submit", (e) => { e.preventDefault(); skip(); });
  $("back-btn").addEventListener("click", stepBack);
  $("forward-btn").addEventListener("click", stepForward);
  el.guidelinesBtn.addEventListener("click", toggleGuidelines);
  $("guidelines-close").addEventListener("click", toggleGuidelines);
  el.imageButton.addEventListener("click", toggleZoom);
  el.message.addEventListener("click", () => say(""));

  // Page keys; a label hotkey wins over an unshifted alternative (, .) that
  // an older project may still use as one.
  const inField = (t) => t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
  document.addEventListener("keydown", (e) => {
    if (e.target === el.skipReason) {
      if (e.key === "Escape") { e.preventDefault(); closeSkip(); }
      return; // Enter submits the skip form
    }
    if (inField(e.target)) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "z") {
      if (!el.zoom.open) { e.preventDefault(); undo(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (el.zoom.open && e.key !== " " && e.key !== "Escape") return;
    const key = e.key;
    const label = hotkeys[key.toLowerCase()];
    let handled = true;
    if (key === "Enter") submit();
    else if (key === "A" && e.shiftKey) acceptSuggestions();
    else if (label && (key === "," || key === ".")) choose(...label);
    else if (key === "/") openSkip();
    else if (key === "<" || key === ",") stepBack();
    else if (key === ">" || key === ".") stepForward();
    else if (key === "[") moveChip(-1);
    else if (key === "]") moveChip(1);
    else if (key === "ArrowLeft" && el.order) moveCursor(-1);
    else if (key === "ArrowRight" && el.order) moveCursor(1);
    else if (key === "?" || key === "F1") toggleGuidelines();
    else if (key === " ") toggleZoom();
    else if (key === "Escape") { if (el.zoom.open) el.zoom.close(); else if (!el.guidelines.hidden) toggleGuidelines(); else say(""); }
    else if (label) choose(...label);
    else handled = false;
    if (handled) e.preventDefault();
  });

  // Keep the leases alive while the annotator is here and active.
  ["keydown", "pointerdown"].forEach((t) => document.addEventListener(t, () => { state.lastActivity = Date.now(); }));
  setInterval(() => {
    if (document.hidden || !state.work) return;
    if (Date.now() - state.lastActivity > config.claim_minutes * 60000) return; // idle: let the claims lapse
    api("POST", config.urls.heartbeat).catch(() => {});
  }, config.heartbeat_seconds * 1000);

  // ---- start
  drawProgress();
  if (start.mode === "work") {
    state.work = start;
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

// Adjudication from the keyboard, on the disputed-items queue and on an
// item's page: a label's hotkey chooses it in the highlighted item, Enter
// sets the gold. A form with no label chosen is refused here and by the
// server. No data is written into the page as HTML.
(function () {
  "use strict";
  const root = document.querySelector("[data-adjudication]");
  if (!root) return;
  const items = Array.from(root.querySelectorAll("[data-adj-item]"));
  // On the queue each item is a card and keys act on the highlighted one;
  // on an item's page hotkeys are unique across the project's tasks.
  const perItem = root.hasAttribute("data-adjudication-queue");
  let active = null;
  let lastForm = null;

  function activate(item) {
    if (!item || item === active) return;
    if (active) active.classList.remove("active");
    active = item;
    active.classList.add("active");
  }

  function say(form, text) {
    let note = form.querySelector(".gold-note");
    if (!note) {
      note = document.createElement("p");
      note.className = "gold-note";
      note.setAttribute("role", "alert");
      form.appendChild(note);
    }
    note.textContent = text;
  }

  root.querySelectorAll("form[data-gold-form]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!form.querySelector("input[name=label]:checked")) {
        e.preventDefault();
        say(form, "Choose a label first: nothing was saved.");
      }
    });
    form.addEventListener("change", () => { lastForm = form; const n = form.querySelector(".gold-note"); if (n) n.textContent = ""; });
  });

  root.addEventListener("focusin", (e) => activate(e.target.closest("[data-adj-item]")));
  root.addEventListener("pointerdown", (e) => activate(e.target.closest("[data-adj-item]")));

  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target && items.includes(target)) { activate(target); target.focus({ preventScroll: false }); }
  else if (perItem) activate(items[0]);

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    if (t.closest && t.closest("textarea, select, input:not([type=radio])")) return;
    if (e.key === "Enter") {
      if (t.closest && t.closest("a, button")) return;  // their own Enter
      const scope = perItem ? active : root;
      if (!scope) return;
      let form = lastForm && scope.contains(lastForm) ? lastForm : null;
      if (!form) form = Array.from(scope.querySelectorAll("form[data-gold-form]")).find((f) => f.querySelector("input[name=label]:checked"));
      e.preventDefault();
      if (!form) {
        const first = scope.querySelector("form[data-gold-form]");
        if (first) say(first, "Choose a label first: nothing was saved.");
        return;
      }
      form.requestSubmit();
      return;
    }
    if (e.key.length !== 1) return;
    const key = e.key.toLowerCase();
    const scope = perItem ? active : root;
    if (!scope) return;
    const radio = Array.from(scope.querySelectorAll("input[type=radio][data-hotkey]")).find((r) => r.dataset.hotkey.toLowerCase() === key);
    if (!radio) return;
    e.preventDefault();
    radio.checked = true;
    radio.focus();
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();

// The label schema's form editor (templates/annotator/project_schema.html).
// It edits a JSON model of the schema and writes it, on every change, into
// the form's JSON textarea (the "Advanced" view), so the page posts exactly
// the JSON the server validates: the same checks and messages as before.
// Names, keys and descriptions are other people's data: every node is built
// with createElement and textContent, never innerHTML.
(function () {
  "use strict";

  var form = document.getElementById("schema-form");
  var root = document.getElementById("schema-editor");
  var textarea = document.getElementById("id_schema");
  var advanced = document.getElementById("schema-advanced");
  if (!form || !root || !textarea) return;

  var model = [];
  var status = document.getElementById("schema-editor-status");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sync() {
    textarea.value = JSON.stringify(model, null, 2);
  }

  function parse() {
    try {
      var value = JSON.parse(textarea.value);
      if (!Array.isArray(value)) throw new Error("the schema must be a JSON list of tasks");
      value.forEach(function (task) {
        if (!task || typeof task !== "object" || Array.isArray(task)) throw new Error("every task must be an object");
        if (!Array.isArray(task.labels)) task.labels = [];
      });
      model = value;
      status.textContent = "";
      return true;
    } catch (err) {
      status.textContent = "The form editor cannot show this schema (" + err.message + "). Fix the JSON in the Advanced view.";
      return false;
    }
  }

  // A text input bound to obj[prop]; every keystroke updates the JSON.
  function input(obj, prop, labelText, attrs) {
    var field = el("input", Object.assign({ type: "text", "aria-label": labelText }, attrs || {}));
    field.value = obj[prop] == null ? "" : String(obj[prop]);
    field.addEventListener("input", function () {
      obj[prop] = field.value;
      sync();
    });
    return field;
  }

  // The accessible name starts with the visible text, then says what it acts on.
  function button(text, what, onClick, className) {
    var b = el("button", { type: "button", className: className || "secondary small", "aria-label": text + ": " + what }, text);
    b.addEventListener("click", onClick);
    return b;
  }

  // Structural changes re-draw the editor, then put the focus back on the
  // control that now holds the moved or added thing.
  function change(focusId) {
    sync();
    render();
    var target = focusId && document.getElementById(focusId);
    if (target) target.focus();
  }

  function move(list, from, to) {
    if (to < 0 || to >= list.length) return false;
    list.splice(to, 0, list.splice(from, 1)[0]);
    return true;
  }

  function taskName(task, t) {
    return "task " + (t + 1) + (task.name ? " (" + task.name + ")" : "");
  }

  function renderLabel(task, t, label, l) {
    var row = el("tr");
    var who = "label " + (l + 1) + " of " + taskName(task, t);
    row.appendChild(el("td")).appendChild(input(label, "key", "Key of " + who, { id: "schema-t" + t + "-l" + l + "-key", className: "mono", spellcheck: "false" }));
    row.appendChild(el("td")).appendChild(input(label, "name", "Name of " + who));
    row.appendChild(el("td")).appendChild(input(label, "hotkey", "Hotkey of " + who, { maxlength: "1", className: "schema-hotkey mono" }));
    row.appendChild(el("td")).appendChild(input(label, "description", "Description of " + who));
    var actions = row.appendChild(el("td", { className: "schema-actions" }));
    actions.appendChild(button("↑", "move " + who + " up", function () {
      if (move(task.labels, l, l - 1)) change("schema-t" + t + "-l" + (l - 1) + "-key");
    }));
    actions.appendChild(button("↓", "move " + who + " down", function () {
      if (move(task.labels, l, l + 1)) change("schema-t" + t + "-l" + (l + 1) + "-key");
    }));
    actions.appendChild(button("Remove", who, function () {
      task.labels.splice(l, 1);
      change("schema-t" + t + "-add-label");
    }));
    return row;
  }

  function renderTask(task, t) {
    var box = el("fieldset", { className: "schema-task-edit" });
    box.appendChild(el("legend", {}, "Task " + (t + 1) + (task.name ? ": " + task.name : "")));
    var head = box.appendChild(el("div", { className: "schema-task-head" }));
    [["key", "Key", { className: "mono", spellcheck: "false" }], ["name", "Name", {}]].forEach(function (spec) {
      var id = "schema-t" + t + "-" + spec[0];
      var wrap = head.appendChild(el("div", { className: "field" }));
      wrap.appendChild(el("label", { for: id }, spec[1]));
      var field = wrap.appendChild(input(task, spec[0], spec[1] + " of " + taskName(task, t), Object.assign({ id: id }, spec[2])));
      field.removeAttribute("aria-label");
      if (spec[0] === "name") field.addEventListener("input", function () {
        box.querySelector("legend").textContent = "Task " + (t + 1) + (task.name ? ": " + task.name : "");
      });
    });
    var reqWrap = head.appendChild(el("div", { className: "field field-check" }));
    var reqLabel = reqWrap.appendChild(el("label"));
    var required = reqLabel.appendChild(el("input", { type: "checkbox" }));
    required.checked = task.required !== false;
    required.addEventListener("change", function () {
      task.required = required.checked;
      sync();
    });
    reqLabel.appendChild(document.createTextNode(" Required"));

    var table = box.appendChild(el("table", { className: "schema-labels" }));
    table.appendChild(el("caption", { className: "sr-only" }, "Labels of " + taskName(task, t)));
    var headRow = table.appendChild(el("thead")).appendChild(el("tr"));
    ["Key", "Name", "Hotkey", "Description", "Order"].forEach(function (h) { headRow.appendChild(el("th", { scope: "col" }, h)); });
    var body = table.appendChild(el("tbody"));
    task.labels.forEach(function (label, l) { body.appendChild(renderLabel(task, t, label, l)); });

    var actions = box.appendChild(el("p", { className: "form-actions" }));
    var add = actions.appendChild(button("Add a label", "to " + taskName(task, t), function () {
      task.labels.push({ key: "", name: "", description: "", hotkey: "" });
      change("schema-t" + t + "-l" + (task.labels.length - 1) + "-key");
    }));
    add.id = "schema-t" + t + "-add-label";
    actions.appendChild(button("Move task up", taskName(task, t), function () {
      if (move(model, t, t - 1)) change("schema-t" + (t - 1) + "-key");
    }));
    actions.appendChild(button("Move task down", taskName(task, t), function () {
      if (move(model, t, t + 1)) change("schema-t" + (t + 1) + "-key");
    }));
    actions.appendChild(button("Remove task", taskName(task, t), function () {
      model.splice(t, 1);
      change("schema-add-task");
    }, "danger small"));
    return box;
  }

  function render() {
    root.replaceChildren();
    model.forEach(function (task, t) { root.appendChild(renderTask(task, t)); });
    var add = root.appendChild(el("p")).appendChild(button("Add a task", "at the end", function () {
      model.push({ key: "", name: "", required: false, labels: [{ key: "", name: "", description: "", hotkey: "" }, { key: "", name: "", description: "", hotkey: "" }] });
      change("schema-t" + (model.length - 1) + "-key");
    }));
    add.id = "schema-add-task";
  }

  // Edits made in the Advanced view show in the form editor when it closes.
  textarea.addEventListener("change", function () {
    if (parse()) render();
  });

  if (parse()) {
    render();
    root.hidden = false;
    // Without script the JSON view is the editor, so it starts open; with the
    // form editor it starts closed, unless the server refused the JSON.
    if (!form.querySelector(".has-error")) advanced.open = false;
  }
})();

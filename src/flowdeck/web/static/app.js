// Flowdeck's pages work without this script; it adds the in-place touches:
// confirmations, the favorite star, the editor's live check, and live executions.
"use strict";

function csrfOf(form) {
  const field = form.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

// Forms that destroy something ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// The favorite star toggles in place; the form still works without the script.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.hasAttribute("data-star")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  const wanted = form.querySelector('input[name="favorite"]');
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(String(response.status));
    const { is_favorite: on } = await response.json();
    const name = button.getAttribute("aria-label").replace(/^[^:]*: /, "");
    button.textContent = on ? "★" : "☆";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.setAttribute("aria-label", (on ? "Remove from favorites: " : "Add to favorites: ") + name);
    wanted.value = on ? "false" : "true";
  } catch (error) {
    form.submit(); // fall back to the plain form (it reloads the page)
  } finally {
    button.disabled = false;
  }
});

// The definition editor: line numbers, and each problem marked at its line as you type.
function setUpEditor(form) {
  const text = form.querySelector("textarea");
  const gutter = form.querySelector(".gutter");
  const list = form.querySelector(".editor-issues");
  let timer = null;
  let asked = 0;

  function drawGutter(issues) {
    const bad = new Map();
    for (const issue of issues) if (issue.line) bad.set(issue.line, issue.message);
    const count = text.value.split("\n").length;
    gutter.replaceChildren();
    for (let line = 1; line <= count; line += 1) {
      const span = document.createElement("span");
      span.textContent = String(line);
      span.dataset.line = String(line);
      if (bad.has(line)) {
        span.className = "bad";
        span.title = bad.get(line);
      }
      gutter.append(span);
    }
    gutter.scrollTop = text.scrollTop;
  }

  function drawList(issues) {
    list.replaceChildren();
    for (const issue of issues) {
      const item = document.createElement("li");
      item.dataset.line = issue.line ? String(issue.line) : "";
      if (issue.line) {
        const go = document.createElement("button");
        go.type = "button";
        go.className = "link goto";
        go.textContent = `Line ${issue.line}`;
        item.append(go, ": ");
      }
      if (issue.path) {
        const code = document.createElement("code");
        code.textContent = issue.path;
        item.append(code, ": ");
      }
      item.append(issue.message);
      list.append(item);
    }
  }

  function currentIssues() {
    return [...list.querySelectorAll("li")].map((li) => ({
      line: Number(li.dataset.line) || null,
      message: li.textContent,
    }));
  }

  async function check() {
    const mine = ++asked;
    const body = new FormData();
    body.set("csrf_token", csrfOf(form));
    body.set("definition", text.value);
    try {
      const response = await fetch(form.dataset.validate, { method: "POST", body, credentials: "same-origin" });
      if (!response.ok || mine !== asked) return;
      const { issues } = await response.json();
      drawList(issues);
      drawGutter(issues);
    } catch (error) {
      // Offline for a moment: the check on save still happens.
    }
  }

  text.addEventListener("input", () => {
    drawGutter(currentIssues());
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  list.addEventListener("click", (event) => {
    if (!event.target.classList.contains("goto")) return;
    const line = Number(event.target.closest("li").dataset.line);
    const lines = text.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
    text.focus();
    text.setSelectionRange(start, start + (lines[line - 1] || "").length);
    const height = text.scrollHeight / Math.max(lines.length, 1);
    text.scrollTop = Math.max(0, (line - 3) * height);
  });
}

// A running execution's page follows the event stream and redraws its live part.
function setUpLive(live) {
  if (live.dataset.final === "true" || !window.EventSource) return;
  const source = new EventSource(live.dataset.events, { withCredentials: true });
  let pending = null;

  async function refresh() {
    pending = null;
    const typing = live.contains(document.activeElement) &&
      ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (typing) { pending = setTimeout(refresh, 1000); return; }
    const open = new Set([...live.querySelectorAll("details[open]")].map((d) => d.closest("li").id));
    const response = await fetch(live.dataset.live, { credentials: "same-origin" });
    if (!response.ok) return;
    live.innerHTML = await response.text();
    for (const id of open) {
      const details = document.getElementById(id)?.querySelector("details");
      if (details) details.open = true;
    }
    const final = live.querySelector(".head .badge");
    if (final && ["succeeded", "failed", "cancelled", "skipped"].includes(final.textContent.trim())) {
      live.dataset.final = "true";
    }
  }

  function soon() {
    if (!pending) pending = setTimeout(refresh, 150);
  }

  source.addEventListener("step", soon);
  source.addEventListener("status", (event) => {
    const { status } = JSON.parse(event.data);
    if (["succeeded", "failed", "cancelled", "skipped"].includes(status)) {
      source.close();
      clearTimeout(pending);
      refresh();
    } else {
      soon();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-validate]").forEach(setUpEditor);
  const live = document.getElementById("live");
  if (live) setUpLive(live);
});

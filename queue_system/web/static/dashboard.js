// queue-system dashboard: live counts over server-sent events, select-all, confirmations. No dependencies.
"use strict";

function liveCounts(root) {
  if (!document.querySelector("[data-count]") || !window.EventSource) return;
  const dot = document.getElementById("live");
  const source = new EventSource(root + "/stream");
  source.addEventListener("stats", (message) => {
    const data = JSON.parse(message.data);
    for (const queue of data.queues) {
      for (const [state, value] of Object.entries(queue.counts)) {
        for (const cell of document.querySelectorAll(`[data-count="${CSS.escape(queue.queue + ":" + state)}"]`)) {
          if (cell.textContent !== String(value)) {
            cell.textContent = String(value);
            cell.classList.add("changed");
            setTimeout(() => cell.classList.remove("changed"), 600);
          }
        }
      }
    }
    if (dot) dot.classList.add("on");
  });
  source.addEventListener("throughput", (message) => drawSparklines(JSON.parse(message.data)));
  source.onerror = () => { if (dot) dot.classList.remove("on"); };
}

// Same drawing as the server's sparkline.py: one shared scale, so queues compare at a glance.
function points(values, peak) {
  const step = 120 / Math.max(values.length - 1, 1);
  return values.map((v, i) => `${(i * step).toFixed(1)},${(23 - (v / peak) * 22).toFixed(1)}`).join(" ");
}

function drawSparklines(series) {
  const all = Object.values(series).flatMap((t) => t.completed.concat(t.failed));
  const peak = Math.max(1, ...all);
  for (const [queue, t] of Object.entries(series)) {
    const svg = document.querySelector(`svg[data-spark="${CSS.escape(queue)}"]`);
    if (!svg) continue;
    svg.querySelector(".done").setAttribute("points", points(t.completed, peak));
    svg.querySelector(".failed").setAttribute("points", points(t.failed, peak));
    const sum = (list) => list.reduce((a, b) => a + b, 0);
    const label = document.querySelector(`[data-hour="${CSS.escape(queue)}"]`);
    if (label) label.textContent = `${sum(t.completed)} ✓ · ${sum(t.failed)} ✗`;
  }
}

function selectAll() {
  const box = document.getElementById("select-all");
  if (!box) return;
  box.addEventListener("change", () => {
    for (const item of document.querySelectorAll('#bulk input[name="ids"]')) item.checked = box.checked;
  });
}

function confirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// A section marked data-refresh="N" is re-read from the same page every N seconds and swapped in place.
function refreshSections() {
  for (const section of document.querySelectorAll("[data-refresh]")) {
    const every = Number(section.dataset.refresh) * 1000;
    const dot = document.getElementById("live-" + section.id);
    const tick = async () => {
      try {
        const answer = await fetch(window.location.href, { headers: { Accept: "text/html" } });
        if (!answer.ok) throw new Error(String(answer.status));
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById(section.id);
        if (fresh) section.innerHTML = fresh.innerHTML;
        if (dot) dot.classList.add("on");
      } catch (error) {
        if (dot) dot.classList.remove("on");
      }
      setTimeout(tick, every);
    };
    if (every > 0) tick();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  liveCounts(document.body.dataset.root);
  refreshSections();
  selectAll();
  confirmations();
});

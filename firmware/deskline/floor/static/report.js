// The report for a day, a date range or a shift: per agent and per desk, plots and CSV.
"use strict";
const COLS = [["calls", "calls"], ["answered", "answered"], ["within_3_rings", "≤ 3 rings"],
  ["late_greetings", "late greetings"], ["unanswered", "unanswered"], ["silent", "silent"],
  ["quiet", "quiet"], ["noisy", "noisy"], ["far_end_hangups", "far-end hang-ups"],
  ["holds", "holds"], ["holds_over_20s", "holds > 20 s"], ["holds_over_2min", "holds > 2 min"],
  ["avg_hold_s", "avg hold (s)"], ["avg_answer_s", "avg answer (s)"],
  ["device_prompts", "device prompts"], ["supervisor_alerts", "supervisor alerts"]];
const $ = id => document.getElementById(id);
let plots = [];

function query() {
  const span = $("span").value;
  const p = new URLSearchParams({ span });
  if (span === "shift") p.set("value", `${$("shift").value}@${$("from").value}`);
  else p.set("value", $("from").value);
  if (span === "range") p.set("until", $("until").value || $("from").value);
  return p.toString();
}

function row(label, r) {
  const tr = document.createElement("tr");
  const th = document.createElement("td"); th.textContent = label; tr.append(th);
  for (const [k] of COLS) {
    const td = document.createElement("td"); td.dataset.col = k;
    td.textContent = r[k] === null || r[k] === undefined ? "–" : r[k]; tr.append(td);
  }
  return tr;
}

function plot(target, title, xs, ys, label) {
  const opts = { title, width: 520, height: 240, scales: { x: { time: false } },
    series: [{ label: "" }, { label, stroke: "#1565c0", fill: "rgba(21,101,192,.15)",
      paths: uPlot.paths.bars({ size: [0.8] }) }],
    axes: [{ values: (u, v) => v.map(i => xs[i] !== undefined ? xs[i] : "") }, {}] };
  plots.push(new uPlot(opts, [xs.map((_, i) => i), ys], $(target)));
}

async function show() {
  const r = await fetch(`/api/report?${query()}`);
  const data = await r.json();
  const table = $("table");
  if (!r.ok) { table.textContent = data.error; return; }
  $("csv").href = `/report.csv?${query()}`;
  $("range").textContent = `${data.from} – ${data.to} (${data.timezone})`;
  const head = document.createElement("tr");
  for (const t of ["", ...COLS.map(c => c[1])]) {
    const th = document.createElement("th"); th.textContent = t; head.append(th);
  }
  const rows = [head];
  for (const [who, rr] of Object.entries(data.agents)) rows.push(row(`agent ${who}`, rr));
  for (const [who, rr] of Object.entries(data.desks)) rows.push(row(`desk ${who}`, rr));
  const total = row("total", data.total); total.id = "total"; rows.push(total);
  table.replaceChildren(...rows);
  for (const p of plots) p.destroy();
  plots = [];
  $("per-hour").replaceChildren(); $("holds").replaceChildren();
  const hours = Object.keys(data.calls_per_hour);
  plot("per-hour", "calls per hour", hours.map(h => h.slice(11, 13) + "h"),
       hours.map(h => data.calls_per_hour[h]), "calls");
  const bins = [0, 10, 20, 30, 60, 120, 300];
  const counts = bins.map((b, i) => data.hold_lengths_s.filter(
    x => x >= b && (i + 1 === bins.length || x < bins[i + 1])).length);
  plot("holds", "hold lengths", bins.map((b, i) => i + 1 === bins.length ? `${b}s+` : `${b}-${bins[i + 1]}s`),
       counts, "holds");
}

async function init() {
  const today = new Date().toISOString().slice(0, 10);
  $("from").value = today; $("until").value = today;
  const first = await (await fetch(`/api/report?span=day&value=${today}`)).json();
  for (const s of first.shifts || []) {
    const o = document.createElement("option"); o.value = o.textContent = s; $("shift").append(o);
  }
  $("show").addEventListener("click", show);
  show();
}
init();

// The floor map: every desk from the floor service's event stream, timers ticking each second.
"use strict";
const HOLD_AMBER_S = 20, HOLD_RED_S = 120;
let floor = { desks: [], alerts: [] };
let skewMs = 0;   // the floor service's clock minus this browser's

function secondsSince(iso) {
  if (!iso) return null;
  return Math.max(0, (Date.now() + skewMs - Date.parse(iso)) / 1000);
}
function clock(s) {
  if (s === null) return "";
  s = Math.floor(s);
  const m = Math.floor(s / 60), r = s % 60;
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m}:${String(r).padStart(2, "0")}`;
}
const LABEL = { idle: "idle", ringing: "ringing", in_call: "in a call", on_hold: "on hold" };
const ALERT = { supervisor: "SUPERVISOR", hold_20s: "hold over 20 s", hold_2min: "hold over 2 min",
  far_end_hangup: "caller hung up, handset still off", card_lost: "sound card lost",
  line_released: "line released by the device" };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

// Elements are kept per desk and per alert and updated in place: a button the lead is about
// to click stays the same button while the timers tick.
function keyed(container, items, keyOf, make, update) {
  const old = new Map([...container.children].map(e => [e.dataset.key, e]));
  const next = items.map(item => {
    const k = keyOf(item);
    const e = old.get(k) || make(item);
    e.dataset.key = k;
    update(e, item);
    return e;
  });
  const same = next.length === container.children.length &&
    next.every((e, i) => container.children[i] === e);
  if (!same) container.replaceChildren(...next);
}

function render() {
  const alerting = new Set(floor.alerts.map(a => `${a.site}/${a.desk}`));
  keyed(document.getElementById("map"), floor.desks, d => `${d.site}/${d.desk}`,
    d => el("div", { "data-desk": `${d.site}/${d.desk}` }, el("h2", {}, d.desk),
      el("div", { class: "agent" }), el("div", { class: "state" }), el("div", { class: "since" })),
    (e, d) => {
      const held = d.state === "on_hold" ? secondsSince(d.since) : null;
      const cls = ["desk", d.state, d.online ? "online" : "offline"];
      if (held !== null && held >= HOLD_RED_S) cls.push("red");
      else if (held !== null && held >= HOLD_AMBER_S) cls.push("amber");
      if (alerting.has(`${d.site}/${d.desk}`)) cls.push("alerting");
      e.className = cls.join(" ");
      e.dataset.state = d.state;
      e.querySelector(".agent").textContent = `agent ${d.agent_no || "–"}`;
      e.querySelector(".state").textContent = d.online ? LABEL[d.state] || d.state : "offline";
      e.querySelector(".since").textContent = d.online ? clock(secondsSince(d.since)) : "";
    });
  keyed(document.getElementById("alerts"), floor.alerts, a => a.id,
    a => {
      const b = el("button", { type: "button", class: "ack", "data-alert": a.id }, "Acknowledge");
      b.addEventListener("click", () => ack(a.id, b));
      return el("div", { class: "alert", "data-alert": a.id, "data-desk": `${a.site}/${a.desk}`,
                         "data-kind": a.kind },
        el("strong", {}, ALERT[a.kind] || a.kind),
        el("span", {}, `desk ${a.desk}, agent ${a.agent_no || "–"}`),
        el("span", { class: "since" }), b);
    },
    (e, a) => { e.querySelector(".since").textContent = clock(secondsSince(a.t)) + " ago"; });
}

async function ack(id, button) {
  button.disabled = true;
  const r = await fetch(`/api/ack/${encodeURIComponent(id)}`, { method: "POST" });
  if (!r.ok) { button.disabled = false; }
}

function connect() {
  const link = document.getElementById("link");
  const es = new EventSource("/events");
  es.addEventListener("floor", ev => {
    floor = JSON.parse(ev.data);
    skewMs = Date.parse(floor.now) - Date.now();
    link.textContent = "live"; link.className = "link up";
    render();
  });
  es.onerror = () => { link.textContent = "reconnecting…"; link.className = "link down"; };
}

connect();
setInterval(render, 1000);

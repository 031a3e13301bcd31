// The ev-optimizer dashboard: renders the snapshots of /dashboard/events, sends the controls
// to the service's /api routes (the session cookie authenticates both). Charts are SVG markup
// built here; nothing is loaded from anywhere else.
"use strict";

const HM = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const DAY = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short" });
const cards = new Map();

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" }[c]));
}
const hm = (iso) => HM.format(new Date(iso));
const pct = (value) => (value === null || value === undefined ? "–" : `${Math.round(value)} %`);
const money = (value, currency) => (value === null || value === undefined ? "–"
  : `${value.toFixed(2)} ${currency}`);

// Adjacent charging slots as runs: "01:00–01:15, 02:00–05:00".
function runs(slots) {
  const out = [];
  for (const slot of slots) {
    const last = out[out.length - 1];
    if (last && last.end === slot.start) last.end = slot.end;
    else out.push({ start: slot.start, end: slot.end });
  }
  return out;
}

function localInput(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// The price curve (step line), the planned slots (bars, height by power) and the SoC
// trajectory to departure. The trajectory follows the plan: SoC rises in each slot in
// proportion to its energy, from the estimate now to the plan's SoC at departure.
function chart(v, width) {
  const plan = v.plan;
  const slots = plan ? plan.slots : [];
  const prices = (v.prices || []).filter((p) => p.price !== null);
  const t = (iso) => new Date(iso).getTime();
  const x0 = prices.length ? t(prices[0].start) : slots.length ? t(slots[0].start) : Date.now();
  const x1 = v.departure ? t(v.departure) : slots.length ? t(slots[slots.length - 1].end) : x0 + 3600e3;
  // drawn at the container's width, so the labels keep their size on a phone
  const W = Math.max(300, Math.round(width || 720)), H = W < 560 ? 200 : 240;
  const L = 40, R = 40, T = 12, B = 26, pw = W - L - R, ph = H - T - B;
  const X = (ms) => L + ((Math.min(Math.max(ms, x0), x1) - x0) / Math.max(x1 - x0, 1)) * pw;
  const values = prices.map((p) => p.price).concat(slots.map((s) => s.price));
  const pmax = Math.max(0.001, ...values), pmin = Math.min(0, ...values);
  const Yp = (p) => T + ph - ((p - pmin) / (pmax - pmin)) * ph;
  const Ys = (soc) => T + ph - (soc / 100) * ph;
  const parts = [`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Prices, planned slots and SoC for ${esc(v.name)}">`];
  parts.push(`<line class="axis" x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}"/>`);
  const pmaxPower = Math.max(0.001, ...slots.map((s) => s.power_kw));
  for (const s of slots) {
    const h = (s.power_kw / pmaxPower) * ph;
    parts.push(`<rect class="slot" data-start="${esc(s.start)}" x="${X(t(s.start)).toFixed(1)}" y="${(T + ph - h).toFixed(1)}" width="${Math.max(X(t(s.end)) - X(t(s.start)), 1).toFixed(1)}" height="${h.toFixed(1)}"><title>${hm(s.start)}–${hm(s.end)}: ${s.power_kw.toFixed(1)} kW at ${s.price.toFixed(3)}</title></rect>`);
  }
  if (prices.length) {
    let d = "";
    for (const p of prices) {
      const y = Yp(p.price).toFixed(1);
      d += d ? ` V${y} H${X(t(p.end)).toFixed(1)}` : `M${X(t(p.start)).toFixed(1)} ${y} H${X(t(p.end)).toFixed(1)}`;
    }
    parts.push(`<path class="price" d="${d}"/>`);
  }
  if (plan && v.soc_pct !== null && v.soc_pct !== undefined) {
    const perKwh = plan.energy_kwh > 0 ? (plan.soc_at_departure_pct - v.soc_pct) / plan.energy_kwh : 0;
    let soc = v.soc_pct;
    const pts = [[X(x0), Ys(soc)]];
    for (const s of slots) {
      pts.push([X(t(s.start)), Ys(soc)]);
      soc += s.energy_kwh * perKwh;
      pts.push([X(t(s.end)), Ys(soc)]);
    }
    pts.push([X(x1), Ys(soc)]);
    parts.push(`<polyline class="soc" data-testid="soc-line" points="${pts.map((p) => p.map((n) => n.toFixed(1)).join(",")).join(" ")}"/>`);
  }
  if (v.target_soc_pct) {
    parts.push(`<line class="dep" x1="${L}" x2="${L + pw}" y1="${Ys(v.target_soc_pct)}" y2="${Ys(v.target_soc_pct)}"/>`);
  }
  parts.push(`<line class="dep" x1="${X(x1)}" x2="${X(x1)}" y1="${T}" y2="${T + ph}"/>`);
  const step = (W < 560 ? 4 : 3) * 3600e3;
  for (let tick = Math.ceil(x0 / step) * step; tick <= x1; tick += step) {
    parts.push(`<text x="${X(tick).toFixed(1)}" y="${H - 8}" text-anchor="middle">${HM.format(new Date(tick))}</text>`);
  }
  parts.push(`<text x="${L - 4}" y="${T + 10}" text-anchor="end">${pmax.toFixed(2)}</text>`);
  parts.push(`<text x="${L - 4}" y="${T + ph}" text-anchor="end">${pmin.toFixed(2)}</text>`);
  parts.push(`<text x="${L + pw + 4}" y="${T + 10}">100 %</text><text x="${L + pw + 4}" y="${T + ph}">0 %</text>`);
  parts.push("</svg>");
  return parts.join("");
}

function bandBar(v) {
  if (v.soc_pct === null || v.soc_pct === undefined) return "";
  const lo = v.soc_low_pct ?? v.soc_pct, hi = v.soc_high_pct ?? v.soc_pct;
  return `<svg viewBox="0 0 100 8" preserveAspectRatio="none" class="bandbar" aria-hidden="true">
    <rect x="0" y="0" width="100" height="8" rx="3" fill="#eef2f6"/>
    <rect x="${lo}" y="0" width="${Math.max(hi - lo, 0.5)}" height="8" fill="#b2ccff"/>
    <rect x="${v.soc_pct - 0.5}" y="0" width="1" height="8" fill="#1c69d4"/></svg>`;
}

function facts(v) {
  const plan = v.plan, cur = v.currency || "EUR";
  const band = v.soc_low_pct !== null && v.soc_low_pct !== undefined
    ? `${Math.round(v.soc_low_pct)}–${Math.round(v.soc_high_pct)} %` : "";
  const out = [`<div class="fact"><div class="label">State of charge (estimate)</div>
    <div class="value" data-testid="soc">${pct(v.soc_pct)}</div>
    <div class="sub" data-testid="band">${band ? `likely ${band}` : ""}</div>${bandBar(v)}</div>`];
  if (plan) {
    const r = runs(plan.slots);
    const window = r.length ? `${hm(r[0].start)}–${hm(r[r.length - 1].end)}` : "no charging needed";
    out.push(`<div class="fact"><div class="label">Plan</div>
      <div class="value" data-testid="plan-window">${window}</div>
      <div class="sub">${plan.energy_kwh.toFixed(1)} kWh</div></div>`);
    out.push(`<div class="fact"><div class="label">Expected cost</div>
      <div class="value" data-testid="cost">${money(plan.cost, cur)}</div>
      <div class="sub" data-testid="saving">${v.expected_saving !== undefined && v.expected_saving !== null
        ? `saves ${money(v.expected_saving, cur)} against charging at once` : ""}</div></div>`);
    out.push(`<div class="fact"><div class="label">At departure${v.departure ? ` ${hm(v.departure)}` : ""}</div>
      <div class="value" data-testid="at-departure">${pct(plan.soc_at_departure_pct)}</div>
      <div class="sub">target ${pct(v.target_soc_pct)}</div></div>`);
  } else {
    out.push(`<div class="fact"><div class="label">Plan</div><div class="value" data-testid="plan-window">${v.plugged ? "planning…" : "not plugged in"}</div></div>`);
  }
  if (v.session) {
    out.push(`<div class="fact"><div class="label">This session</div>
      <div class="value" data-testid="session-energy">${v.session.energy_kwh.toFixed(1)} kWh</div>
      <div class="sub">${money(v.session.cost, cur)} so far</div></div>`);
  }
  return `<div class="facts">${out.join("")}</div>`;
}

function view(v, width) {
  const plan = v.plan;
  let warn = "";
  if (plan && !plan.feasible) {
    warn = `<p class="warning" data-testid="warning">Will be at ${pct(plan.soc_at_departure_pct)} at ${v.departure ? hm(v.departure) : "departure"}, not ${pct(v.target_soc_pct)}${plan.reason ? `: ${esc(plan.reason)}` : ""}</p>`;
  }
  const slotText = plan && plan.slots.length
    ? `Charging ${runs(plan.slots).map((r) => `${hm(r.start)}–${hm(r.end)}`).join(", ")}` : "";
  return `${warn}${facts(v)}
    <div class="chart">${chart(v, width)}</div>
    <div class="legend"><span><i class="k price"></i>price (${esc(v.currency || "EUR")}/kWh)</span>
      <span><i class="k slot"></i>planned charging</span><span><i class="k soc"></i>SoC</span></div>
    <p class="muted" data-testid="slots">${slotText}</p>`;
}

function card(v) {
  const section = document.createElement("section");
  section.className = "card";
  section.dataset.vehicle = v.name;
  section.innerHTML = `<h2><span>${esc(v.name)}</span><span class="badge" data-testid="plugged"></span>
      <span class="badge" data-testid="charging"></span></h2>
    <div class="view"></div>
    <form class="controls">
      <label>Target<input name="target" type="number" min="1" max="100" step="1" inputmode="numeric"></label>
      <label>Departure<input name="departure" type="datetime-local"></label>
      <button type="submit" data-testid="set">Set</button>
      <button type="button" class="toggle" data-testid="smart">Smart charging</button>
      <button type="button" class="toggle" data-testid="boost">Boost</button>
      <span class="muted" data-testid="status" role="status"></span>
    </form>`;
  const form = section.querySelector("form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    const target = form.elements.target.value, departure = form.elements.departure.value;
    if (target !== "") body.soc_pct = Number(target);
    if (departure !== "") body.departure = new Date(departure).toISOString();
    send(section, v.name, "target", body);
  });
  for (const what of ["smart", "boost"]) {
    const button = section.querySelector(`[data-testid=${what}]`);
    button.addEventListener("click", () =>
      send(section, v.name, what, { on: button.getAttribute("aria-pressed") !== "true" }));
  }
  return section;
}

async function send(section, name, what, body) {
  const status = section.querySelector("[data-testid=status]");
  status.textContent = "…";
  try {
    const response = await fetch(`/api/vehicles/${encodeURIComponent(name)}/${what}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "same-origin" });
    if (response.ok) { status.textContent = "saved"; return; }
    const problem = await response.json().catch(() => ({}));
    status.textContent = `refused: ${typeof problem.detail === "string" ? problem.detail : response.status}`;
  } catch (error) {
    status.textContent = "the service is not answering";
  }
}

function update(section, v) {
  const box = section.querySelector(".view");
  box.innerHTML = view(v, box.clientWidth);
  const badge = (el, on, yes, no) => { el.textContent = on ? yes : no; el.classList.toggle("yes", !!on); };
  badge(section.querySelector("[data-testid=plugged]"), v.plugged, "plugged in", "unplugged");
  badge(section.querySelector("[data-testid=charging]"), v.charging, "charging", "not charging");
  const form = section.querySelector("form");
  if (document.activeElement !== form.elements.target) form.elements.target.value = v.target_soc_pct ?? "";
  if (document.activeElement !== form.elements.departure && v.departure) form.elements.departure.value = localInput(v.departure);
  for (const what of ["smart", "boost"]) {
    section.querySelector(`[data-testid=${what}]`).setAttribute("aria-pressed", String(!!v[what]));
  }
}

function sessions(list, currency) {
  const table = document.getElementById("sessions");
  const rows = [...list].sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
  // A session's saving is known when it ends: the total counts the ended ones only.
  const ended = rows.filter((s) => s.saving !== null && s.saving !== undefined);
  const saved = ended.reduce((sum, s) => sum + s.saving, 0);
  const open = rows.length - ended.length;
  document.querySelector("[data-testid=total-saved]").textContent = !rows.length ? "No sessions yet"
    : `Saved so far: ${money(saved, currency)} in ${ended.length} ended session${ended.length === 1 ? "" : "s"}`
      + (open ? ` (${open} under way)` : "");
  table.innerHTML = `<thead><tr><th>Started</th><th>Vehicle</th><th>Energy</th><th>Cost</th><th>Saved</th></tr></thead><tbody>${
    rows.map((s) => `<tr><td>${DAY.format(new Date(s.started_at))} <span class="time">${hm(s.started_at)}</span></td><td>${esc(s.vehicle)}</td>
      <td>${s.energy_kwh.toFixed(1)} kWh</td><td>${money(s.cost, currency)}</td>
      <td>${s.saving === null || s.saving === undefined ? "open" : money(s.saving, currency)}</td></tr>`).join("")}</tbody>`;
}

function render(snapshot) {
  const box = document.getElementById("vehicles");
  if (!cards.size) box.textContent = "";
  for (const v of snapshot.vehicles) {
    if (!cards.has(v.name)) { cards.set(v.name, card(v)); box.appendChild(cards.get(v.name)); }
    update(cards.get(v.name), v);
  }
  const currency = (snapshot.vehicles[0] && snapshot.vehicles[0].currency) || "EUR";
  sessions(snapshot.sessions, currency);
}

// Without a valid cookie (never logged in, or the token was replaced) go to the login page.
async function loggedIn() {
  try {
    const response = await fetch("/dashboard/session", { credentials: "same-origin" });
    if (response.status === 401) { location.replace("/login"); return false; }
  } catch (error) { /* the service is away; EventSource retries by itself */ }
  return true;
}

async function connect() {
  if (!(await loggedIn())) return;
  const live = document.getElementById("live");
  const source = new EventSource("/dashboard/events");
  source.addEventListener("snapshot", (event) => {
    live.textContent = "live"; live.classList.add("on");
    render(JSON.parse(event.data));
  });
  source.onerror = () => {
    live.textContent = "reconnecting…"; live.classList.remove("on");
    loggedIn().then((ok) => { if (!ok) source.close(); });
  };
}

connect();

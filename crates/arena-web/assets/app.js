// finetune-arena leaderboard: renders /api/standings and /api/history, refreshing every
// REFRESH_MS. Plain DOM and hand-written SVG; no libraries, nothing fetched from elsewhere.
"use strict";

const REFRESH_MS = 10000;
const SVG_NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

const fmt = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const short = (s) => (s ? s.slice(0, 6) + "…" + s.slice(-4) : "–");
const tao = (rao) => (rao / 1e9).toLocaleString("en-US", { maximumFractionDigits: 3 });
const color = (uid) => COLORS[uid % COLORS.length];

const VALIDATOR_STATUS = { ok: "ok", no_permit: "no validator permit", not_registered: "not registered", store_error: "state unreadable" };

function validatorStatus(v) {
  if (v.status === "ok") return "ok";
  const label = VALIDATOR_STATUS[v.status] || v.status;
  const detail = [v.status_detail, v.status === "store_error" ? "" : v.error].filter(Boolean).join("; ");
  return el("span", { class: "err", title: detail }, label + (detail ? ": " + detail : ""));
}

// The state of a model: why it has a score, or why it has none.
function stateText(st) {
  switch (st.state) {
    case "evaluated": return "evaluated";
    case "waiting": return "waiting until block " + st.block;
    case "queued": return "queued (" + (st.code || "?") + ")";
    case "rejected": return "rejected: " + (st.code || "?");
    default: return st.block !== null && st.block !== undefined ? "not evaluated since block " + st.block : "not evaluated";
  }
}

function validatorsTable(validators) {
  const head = el("tr", {}, ...["uid", "hotkey", "stake (TAO)", "permit", "last weights", "state", "latest step", "status"].map((h) => el("th", {}, h)));
  const rows = validators.map((v) =>
    el("tr", { class: v.status !== "ok" ? "validator-row bad" : "validator-row", "data-status": v.status },
      el("td", {}, v.uid ?? "–"),
      el("td", { title: v.hotkey || "" }, short(v.hotkey)),
      el("td", { class: "num" }, tao(v.stake)),
      el("td", {}, v.validator_permit ? "yes" : "no"),
      el("td", { class: "num" }, v.last_update ?? "never"),
      el("td", { class: "path" }, v.store || "(chain only)"),
      el("td", { class: "num" }, v.latest_step_block ?? "–"),
      el("td", { class: "status" }, validatorStatus(v))));
  return el("table", { class: "validators" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function standingsTable(c) {
  const validators = c.models.length ? c.models[0].validator_weights : [];
  const heads = ["#", "uid", "model", "score", "state", "win rate", "weight", "incentive", "emission (rao)"]
    .concat(c.tasks.map((t) => "task " + t))
    .concat(validators.map((v) => "w[v" + v.validator_uid + "]"));
  const rows = c.models.map((m) => {
    const tasks = c.tasks.map((t) => {
      const s = m.tasks.find((x) => x.task_id === t);
      return el("td", { class: "num", title: s ? "raw " + fmt(s.raw, 4) + ", weight " + fmt(s.weight, 2) : "" }, s ? fmt(s.normalised, 4) : "–");
    });
    const weights = m.validator_weights.map((w) => el("td", { class: "num" }, fmt(w.weight, 4)));
    const model = el("td", { title: m.hotkey }, el("span", { class: "swatch", style: "background:" + color(m.uid) }), m.repo + "@" + m.revision.slice(0, 8));
    const stopped = m.early_stop ? el("span", { class: "stopped", title: "evaluation stopped early: it could not beat the leader; the score covers " + m.early_stop.samples + " of " + m.early_stop.of + " samples" }, " stopped " + m.early_stop.samples + "/" + m.early_stop.of) : "";
    const score = el("td", { class: "num" }, m.error ? el("span", { class: "err", title: m.error }, "failed") : fmt(m.score, 4), stopped);
    const st = m.status;
    const state = el("td", { class: "state state-" + st.state, title: st.detail + (st.validator ? " (validator " + short(st.validator) + ")" : "") }, stateText(st));
    return el("tr", { class: "model-row", "data-uid": m.uid },
      el("td", { class: "num" }, m.rank), el("td", { class: "num" }, m.uid), model, score, state,
      el("td", { class: "num" }, fmt(m.win_rate, 3)), el("td", { class: "num" }, fmt(m.weight, 4)),
      el("td", { class: "num" }, fmt(m.incentive, 4)), el("td", { class: "num" }, m.emission.toLocaleString("en-US")),
      ...tasks, ...weights);
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: heads.length }, "no models committed")));
  return el("table", { class: "standings", "data-competition": c.id },
    el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
}

// A line chart of one field of every series: x = block, y = value; one circle per point.
function chart(series, field, title) {
  const W = 460, H = 220, L = 56, R = 12, T = 24, B = 30;
  const pts = series.flatMap((s) => s.points.filter((p) => p[field] !== null));
  const root = svg("svg", { class: "chart", "data-field": field, viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  const label = svg("text", { x: L, y: 16, class: "title" });
  label.textContent = title;
  root.append(label);
  if (!pts.length) {
    const none = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
    none.textContent = "no steps recorded yet";
    root.append(none);
    return root;
  }
  const xs = pts.map((p) => p.block), ys = pts.map((p) => p[field]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (field === "weight") { y0 = 0; y1 = Math.max(y1, 1e-6); }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.08;
  y0 -= field === "weight" ? 0 : pad; y1 += pad;
  const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const Y = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  root.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  root.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  const lo = field === "weight" ? y0 : y0 + pad;
  for (const [v, y] of [[lo, Y(lo)], [y1 - pad, Y(y1 - pad)]]) {
    const t = svg("text", { x: L - 4, y: y + 4, "text-anchor": "end", class: "tick" });
    t.textContent = fmt(v, 3);
    root.append(t);
  }
  for (const [x, anchor] of [[Math.min(...xs), "start"], [Math.max(...xs), "end"]]) {
    const t = svg("text", { x: X(x), y: H - B + 16, "text-anchor": anchor, class: "tick" });
    t.textContent = "block " + x;
    root.append(t);
  }
  for (const s of series) {
    const own = s.points.filter((p) => p[field] !== null);
    if (!own.length) continue;
    root.append(svg("polyline", { points: own.map((p) => `${X(p.block)},${Y(p[field])}`).join(" "), stroke: color(s.uid), class: "line", "data-uid": s.uid }));
    for (const p of own) {
      const c = svg("circle", { cx: X(p.block), cy: Y(p[field]), r: 3, fill: color(s.uid), class: "pt", "data-uid": s.uid, "data-block": p.block });
      const tip = svg("title");
      tip.textContent = `uid ${p.uid ?? s.uid} (${short(s.hotkey)}) @ block ${p.block}: ${fmt(p[field], 4)}`;
      c.append(tip);
      root.append(c);
    }
  }
  return root;
}

function render(standings, history) {
  const app = document.getElementById("app");
  const parts = [el("h2", {}, "Validators"), validatorsTable(standings.validators)];
  if (standings.schedule_error) parts.push(el("p", { class: "err schedule-error" }, standings.schedule_error));
  for (const c of standings.competitions) {
    const h = (history.competitions || []).find((x) => x.id === c.id) || { series: [] };
    const by = c.scored_by;
    const meta = by ? `scores from validator ${by.uid ?? "?"} (${short(by.hotkey)}, ${tao(by.stake)} TAO), step at block ${by.step_block}` : "no validator has scored this competition yet";
    parts.push(el("section", { class: "competition", id: "competition-" + c.id },
      el("h2", {}, `${c.name} (id ${c.id})`, el("span", { class: "reward" }, c.active ? ` reward ${fmt(c.reward * 100, 0)}%` : " not active")),
      el("p", { class: "meta" }, meta),
      standingsTable(c),
      h.error ? el("p", { class: "err" }, h.error) : "",
      el("div", { class: "charts" }, chart(h.series, "score", "score (lower is better)"), chart(h.series, "weight", "weight set by the scoring validator"))));
  }
  app.replaceChildren(...parts);
  document.getElementById("status").textContent = `subnet ${standings.netuid} · block ${standings.block} · updated ${new Date().toLocaleTimeString()}`;
}

async function fetchJson(url) {
  const resp = await fetch(url, { cache: "no-store" });
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || `${url}: HTTP ${resp.status}`);
  return body;
}

async function refresh() {
  const banner = document.getElementById("error");
  try {
    const [standings, history] = await Promise.all([fetchJson("/api/standings"), fetchJson("/api/history")]);
    render(standings, history);
    banner.hidden = true;
  } catch (e) {
    banner.textContent = "Could not load the standings: " + e.message;
    banner.hidden = false;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);

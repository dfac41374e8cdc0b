// curate gallery: plain JS over the JSON API (/api/meta, /api/clips, /api/clip/<id>, /api/export, POST /api/labels).
// Everything a curator sets (filters, page, open clip, score badges) lives in the URL, so a link reproduces the view.
"use strict";
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));
const PAGE = 60;
let META = null, OFFSET = 0, TOTAL = 0, BADGES = [], OPEN = null, ROWS = [];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else if (k === "dataset") Object.assign(e.dataset, v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
// media paths are relative to the output dir: encode each segment
const mediaUrl = p => "/media/" + p.split("/").map(encodeURIComponent).join("/");
const fmt = v => (v == null ? "–" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "")) : String(v));
const fmtT = s => (s == null ? "?" : Number(s).toFixed(2) + "s");
const clock = s => { if (s == null) return "?"; const m = Math.floor(s / 60); return m + ":" + (s - 60 * m).toFixed(1).padStart(4, "0"); };

async function getJSON(url, opts) {
  const r = await fetch(url, opts);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function addOptions(select, values) { for (const v of values) select.append(el("option", {value: v, text: v})); }

// -- URL state ---------------------------------------------------------------------------------
function filterParams() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData($("#filters"))) if (v !== "") p.set(k, v);
  return p;
}

function syncURL(push) {
  const p = filterParams();
  if (OFFSET) p.set("offset", OFFSET);
  if (OPEN) p.set("clip", OPEN);
  p.set("badges", BADGES.join(","));
  const url = "?" + p.toString();
  if (url !== location.search) history[push ? "pushState" : "replaceState"](null, "", url);
}

function readURL() {
  const p = new URLSearchParams(location.search);
  const f = $("#filters");
  for (const e of f.elements) {  // not f.reset(): its handler would reload
    if (e.tagName === "SELECT") e.selectedIndex = 0; else if (e.tagName === "INPUT" && e.type !== "checkbox") e.value = "";
  }
  f.status.value = META.statuses.includes("ok") ? "ok" : "all";
  for (const [k, v] of p) {
    const input = f.elements.namedItem(k);
    if (input && !["offset", "clip", "badges"].includes(k)) input.value = v;
  }
  OFFSET = Math.max(0, parseInt(p.get("offset") || "0", 10) || 0);
  OPEN = p.get("clip");
  const scores = Object.keys(META.numeric);
  BADGES = p.has("badges") ? p.get("badges").split(",").filter(b => scores.includes(b)) : defaultBadges();
  for (const box of $$("#badges input")) box.checked = BADGES.includes(box.value);
}

function defaultBadges() {  // the first three scores that have values in this output
  return Object.entries(META.numeric).filter(([, r]) => r.score && r.min != null).map(([k]) => k).slice(0, 3);
}

// -- setup -------------------------------------------------------------------------------------
async function init() {
  META = await getJSON("/api/meta");
  $("#outdir").textContent = META.output_dir + " · " + META.total + " clips";
  const f = $("#filters");
  addOptions(f.status, META.statuses);
  if (META.topics) { addOptions(f.topic, META.topics); $("#topic-wrap").hidden = false; }
  if (META.licences) { addOptions(f.licence, META.licences); $("#licence-wrap").hidden = false; }
  const ranges = $("#ranges"), badges = $("#badges");
  for (const [col, r] of Object.entries(META.numeric)) {
    if (r.min == null) continue;  // no values in this output (stage off): nothing to filter, sort or show
    ranges.append(el("div", {class: "rng"},
      el("span", {text: col + (r.score ? "" : " (property)")}),
      el("input", {name: "min." + col, type: "number", step: "any", placeholder: "min " + fmt(r.min), "data-testid": "min." + col}),
      el("input", {name: "max." + col, type: "number", step: "any", placeholder: "max " + fmt(r.max), "data-testid": "max." + col})));
    f.sort.append(el("option", {value: col, text: col}));
    const box = el("input", {type: "checkbox", value: col, "data-testid": "badge." + col});
    box.onchange = () => { BADGES = $$("#badges input").filter(b => b.checked).map(b => b.value); syncURL(false); render(); };
    badges.append(el("label", {class: "chk"}, box, " " + col));
  }
  f.addEventListener("submit", ev => { ev.preventDefault(); OFFSET = 0; syncURL(true); load(); });
  f.addEventListener("reset", () => setTimeout(() => { f.status.value = META.statuses.includes("ok") ? "ok" : "all"; OFFSET = 0; syncURL(true); load(); }));
  $("#prev").onclick = () => page(-1);
  $("#next").onclick = () => page(1);
  $("#export").onclick = exportFilter;
  window.addEventListener("popstate", () => { readURL(); load(); });
  document.addEventListener("keydown", onKey);
  readURL();
  syncURL(false);
  load();
}

function page(dir) {
  const next = OFFSET + dir * PAGE;
  if (next < 0 || next >= TOTAL) return;
  OFFSET = next; syncURL(true); load();
}

// -- grid --------------------------------------------------------------------------------------
async function load() {
  let data;
  const q = filterParams();
  q.set("limit", PAGE); q.set("offset", OFFSET);
  try { data = await getJSON("/api/clips?" + q); }
  catch (e) { $("#count").textContent = "error: " + e.message; $("#count").dataset.total = ""; return; }
  TOTAL = data.total;
  ROWS = data.clips;
  render();
  const c = $("#count");
  c.textContent = data.total + " clips match" + (data.total > PAGE ? ` (showing ${data.offset + 1}–${Math.min(data.total, data.offset + PAGE)})` : "");
  $("#prev").disabled = data.offset === 0;
  $("#next").disabled = data.offset + PAGE >= data.total;
  c.dataset.total = data.total;  // last: tests wait for it
  if (OPEN) show(OPEN, false); else closeDetail(false);
}

function render() {
  const grid = $("#grid");
  grid.replaceChildren();
  for (const row of ROWS) {
    const img = row.thumbnail_path ? el("img", {src: mediaUrl(row.thumbnail_path), alt: row.clip_id, loading: "lazy"}) : el("div", {class: "noimg muted", text: "no thumbnail"});
    const meta = el("div", {class: "meta"},
      el("div", {class: "src", title: row._source || "", text: (row._source || "?") + " · " + clock(row.start_s) + "–" + clock(row.end_s)}),
      el("span", {class: "badge " + row.status, text: row.status}));
    if (row._label) meta.append(el("span", {class: "badge label-" + row._label, "data-testid": "label-badge", text: row._label === "accept" ? "✓ accept" : "✗ reject"}));
    for (const t of row._tags || []) meta.append(el("span", {class: "badge tag", text: "#" + t}));
    for (const s of BADGES) meta.append(el("span", {class: "badge", "data-badge": s, text: s + " " + fmt(row[s])}));
    if (row._topic != null) meta.append(el("span", {class: "badge", text: String(row._topic)}));
    if (row.reject_reasons && row.reject_reasons.length) meta.append(el("div", {class: "reason", text: row.reject_reasons.join(", ")}));
    if (row._caption) meta.append(el("div", {class: "cap", text: row._caption}));
    const tile = el("div", {class: "tile " + row.status + (row.clip_id === OPEN ? " sel" : ""), "data-testid": "tile", tabindex: "-1", dataset: {clipId: row.clip_id}}, img, meta);
    tile.onclick = () => show(row.clip_id, true);
    grid.append(tile);
  }
}

function tiles() { return $$("#grid .tile"); }

function select(tile) {
  for (const t of tiles()) t.classList.toggle("sel", t === tile);
  tile.scrollIntoView({block: "nearest"});
}

// -- keyboard ----------------------------------------------------------------------------------
function onKey(ev) {
  const t = ev.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
    if (ev.key === "Escape") t.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const all = tiles();
  const i = all.findIndex(x => x.dataset.clipId === OPEN);
  const cols = Math.max(1, Math.round($("#grid").clientWidth / (all[0] ? all[0].getBoundingClientRect().width + 10 : 1)));
  const move = d => {
    if (!all.length) return;
    const j = i < 0 ? 0 : Math.min(all.length - 1, Math.max(0, i + d));
    show(all[j].dataset.clipId, false);
  };
  const keys = {
    ArrowRight: () => move(1), ArrowLeft: () => move(-1), ArrowDown: () => move(cols), ArrowUp: () => move(-cols),
    j: () => move(1), k: () => move(-1), n: () => page(1), p: () => page(-1), PageDown: () => page(1), PageUp: () => page(-1),
    Escape: () => closeDetail(true),
    a: () => OPEN && label({label: "accept"}), r: () => OPEN && label({label: "reject"}), u: () => OPEN && label({label: null}),
    t: () => { const inp = $("#tag-input"); if (inp) inp.focus(); },
    " ": () => { const v = $("#detail video"); if (v) (v.paused ? v.play() : v.pause()); },
    "?": () => { $("#keys").open = !$("#keys").open; },
  };
  if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
}

// -- labels ------------------------------------------------------------------------------------
async function label(change) {
  if (!OPEN) return;
  const body = {clip_ids: [OPEN], ...change};
  try {
    const res = await getJSON("/api/labels", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    const row = ROWS.find(r => r.clip_id === OPEN);
    const l = res.labels[0];
    if (row) { row._label = l.label; row._tags = l.tags; }
    render();
    drawLabel(l);
  } catch (e) { $("#label-msg").textContent = "error: " + e.message; }
}

function drawLabel(l) {
  const box = $("#labelbox");
  if (!box) return;
  const state = l && l.label ? l.label : "none";
  box.dataset.label = state;
  $("#label-state").textContent = state === "none" ? "not labelled" : state;
  const chips = $("#tags");
  chips.replaceChildren();
  for (const t of (l && l.tags) || []) {
    const x = el("button", {type: "button", class: "chip", title: "remove tag", "data-tag": t, text: "#" + t + " ×"});
    x.onclick = () => label({tags_remove: [t]});
    chips.append(x);
  }
  $("#label-msg").textContent = "";
}

// -- detail ------------------------------------------------------------------------------------
function closeDetail(push) {
  OPEN = null;
  $("#detail").hidden = true;
  $("#layout").classList.remove("with-detail");
  for (const t of tiles()) t.classList.remove("sel");
  if (push) syncURL(true);
}

async function show(id, push) {
  OPEN = id;
  const tile = tiles().find(t => t.dataset.clipId === id);
  if (tile) select(tile);
  syncURL(push);
  let d;
  try { d = await getJSON("/api/clip/" + encodeURIComponent(id)); }
  catch (e) { $("#count").textContent = "error: " + e.message; return; }
  if (OPEN !== id) return;  // another clip was opened meanwhile
  const box = $("#detail");
  $("#layout").classList.add("with-detail");
  box.hidden = false;
  box.replaceChildren();
  box.dataset.clipId = d.clip_id;
  const close = el("button", {type: "button", class: "close", title: "close (Esc)", text: "×"});
  close.onclick = () => closeDetail(true);
  const video = d.clip_path ? el("video", {src: mediaUrl(d.clip_path), controls: "", preload: "metadata", "data-testid": "video"}) : el("p", {class: "muted", text: "no clip file"});
  if (d.thumbnail_path && d.clip_path) video.setAttribute("poster", mediaUrl(d.thumbnail_path));
  box.append(close, el("div", {class: "muted", text: d.clip_id}), video);
  box.append(el("div", {}, el("span", {class: "badge " + d.status, text: d.status, "data-testid": "status"}),
                d.reject_reasons.length ? el("span", {class: "reason", text: " " + d.reject_reasons.join(", "), "data-testid": "reasons"}) : null,
                d.error ? el("span", {class: "reason", text: " " + d.error}) : null));
  // the curator's verdict: buttons and keys a / r / u, tags with t
  const acc = el("button", {type: "button", class: "acc", "data-testid": "accept", title: "accept (a)", text: "✓ accept"});
  const rej = el("button", {type: "button", class: "rej", "data-testid": "reject", title: "reject (r)", text: "✗ reject"});
  const clr = el("button", {type: "button", "data-testid": "clear", title: "clear (u)", text: "clear"});
  acc.onclick = () => label({label: "accept"}); rej.onclick = () => label({label: "reject"}); clr.onclick = () => label({label: null});
  const tagIn = el("input", {id: "tag-input", "data-testid": "tag-input", placeholder: "add tag (t), Enter", size: "14"});
  tagIn.onkeydown = ev => { if (ev.key === "Enter" && tagIn.value.trim()) { ev.preventDefault(); label({tags_add: [tagIn.value]}); tagIn.value = ""; } };
  box.append(el("div", {id: "labelbox", "data-testid": "labelbox"}, el("b", {id: "label-state"}), " ", acc, rej, clr, " ", tagIn,
                el("div", {id: "tags"}), el("div", {id: "label-msg", class: "reason"})));
  drawLabel(d.label);
  if (d.topic != null) box.append(el("h3", {text: "Topic"}), el("div", {"data-testid": "topic-value", text: String(d.topic)}));
  for (const [name, text] of Object.entries(d.captions)) {
    if (text == null || String(text).trim() === "") continue;  // captions off or empty: no empty heading
    box.append(el("h3", {text: name}), el("div", {"data-testid": "caption-" + name, text: text}));
  }
  const dur = (d.span.end_s ?? 0) - (d.span.start_s ?? 0);
  for (const [name, segs] of Object.entries(d.timed_captions)) {
    if (!segs.length) continue;
    const list = el("div", {"data-testid": "timed-" + name});
    // timestamps may be in source-video time or clip time: source time when any segment ends past the clip's length
    const offset = segs.some(s => s.end != null && s.end > dur + 0.05) ? (d.span.start_s || 0) : 0;
    for (const s of segs) {
      const row = el("div", {class: "seg"}, el("span", {class: "ts", text: `[${fmtT(s.start)}–${fmtT(s.end)}] `}), s.text || "");
      row.onclick = () => { const v = $("video", box); if (v && s.start != null) { v.currentTime = Math.max(0, s.start - offset); v.play(); } };
      list.append(row);
    }
    box.append(el("h3", {text: name + " (click a line to seek)"}), list);
  }
  if (Object.keys(d.scores).length) box.append(el("h3", {text: "Scores"}), kvTable(d.scores, "scores"));
  box.append(el("h3", {text: "Clip"}), kvTable({...d.properties, ...d.span}, "properties"));
  box.append(el("h3", {text: "Provenance"}), kvTable(d.provenance, "provenance"));
}

function kvTable(obj, testid) {
  const t = el("table", {"data-testid": testid});
  for (const [k, v] of Object.entries(obj)) {
    const val = Array.isArray(v) ? v.join(", ") : fmt(v);
    let cell = el("td", {"data-field": k, text: val});
    if (typeof v === "string" && /^https?:\/\//.test(v)) cell = el("td", {"data-field": k}, el("a", {href: v, rel: "noopener noreferrer", target: "_blank", text: v}));
    t.append(el("tr", {}, el("td", {text: k}), cell));
  }
  return t;
}

// -- export the current filter -----------------------------------------------------------------
async function exportFilter() {
  const p = filterParams();
  const box = $("#export-box");
  try {
    const d = await getJSON("/api/export?" + p);
    $("#export-where").value = d.where;
    $("#export-sql").value = d.sql;
    $("#export-cmd").value = d.command;
    p.set("format", "txt");
    const a = $("#export-list");
    a.href = "/api/export?" + p;
    a.textContent = `clip list (${d.total} ids, .txt)`;
    box.hidden = false;
  } catch (e) { $("#count").textContent = "error: " + e.message; }
}

init().catch(e => { $("#count").textContent = "error: " + e.message; });

// curate gallery: plain JS over the read-only JSON API (/api/meta, /api/clips, /api/clip/<id>).
"use strict";
const $ = (s, el = document) => el.querySelector(s);
const PAGE = 60;
let META = null, OFFSET = 0, TOTAL = 0;

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

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function addOptions(select, values) { for (const v of values) select.append(el("option", {value: v, text: v})); }

async function init() {
  META = await getJSON("/api/meta");
  $("#outdir").textContent = META.output_dir + " · " + META.total + " clips";
  const f = $("#filters");
  addOptions(f.status, META.statuses);
  if (META.statuses.includes("ok")) f.status.value = "ok";
  if (META.topics) { addOptions(f.topic, META.topics); $("#topic-wrap").hidden = false; }
  if (META.licences) { addOptions(f.licence, META.licences); $("#licence-wrap").hidden = false; }
  const ranges = $("#ranges");
  for (const [col, r] of Object.entries(META.numeric)) {
    ranges.append(el("div", {class: "rng"},
      el("span", {text: col + (r.score ? "" : " (property)")}),
      el("input", {name: "min." + col, type: "number", step: "any", placeholder: "min " + fmt(r.min), "data-testid": "min." + col}),
      el("input", {name: "max." + col, type: "number", step: "any", placeholder: "max " + fmt(r.max), "data-testid": "max." + col})));
    f.sort.append(el("option", {value: col, text: col}));
  }
  f.addEventListener("submit", ev => { ev.preventDefault(); OFFSET = 0; load(); });
  f.addEventListener("reset", () => setTimeout(() => { f.status.value = META.statuses.includes("ok") ? "ok" : "all"; OFFSET = 0; load(); }));
  $("#prev").onclick = () => { OFFSET = Math.max(0, OFFSET - PAGE); load(); };
  $("#next").onclick = () => { if (OFFSET + PAGE < TOTAL) { OFFSET += PAGE; load(); } };
  load();
}

function query() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData($("#filters"))) if (v !== "") p.set(k, v);
  p.set("limit", PAGE); p.set("offset", OFFSET);
  return p;
}

async function load() {
  const grid = $("#grid");
  let data;
  try { data = await getJSON("/api/clips?" + query()); }
  catch (e) { $("#count").textContent = "error: " + e.message; $("#count").dataset.total = ""; return; }
  TOTAL = data.total;
  const c = $("#count");
  c.dataset.total = data.total;
  c.textContent = data.total + " clips match" + (data.total > PAGE ? ` (showing ${data.offset + 1}–${Math.min(data.total, data.offset + PAGE)})` : "");
  $("#prev").disabled = data.offset === 0;
  $("#next").disabled = data.offset + PAGE >= data.total;
  grid.replaceChildren();
  const scores = Object.entries(META.numeric).filter(([, r]) => r.score).map(([k]) => k).slice(0, 3);
  for (const row of data.clips) {
    const img = row.thumbnail_path ? el("img", {src: mediaUrl(row.thumbnail_path), alt: row.clip_id, loading: "lazy"}) : el("div", {class: "muted", text: "no thumbnail"});
    const meta = el("div", {class: "meta"}, el("span", {class: "badge " + row.status, text: row.status}));
    for (const s of scores) meta.append(el("span", {class: "badge", text: s + " " + fmt(row[s])}));
    if (row._topic != null) meta.append(el("span", {class: "badge", text: String(row._topic)}));
    if (row.reject_reasons && row.reject_reasons.length) meta.append(el("div", {class: "reason", text: row.reject_reasons.join(", ")}));
    if (row._caption) meta.append(el("div", {class: "cap", text: row._caption}));
    const tile = el("div", {class: "tile " + row.status, "data-testid": "tile", dataset: {clipId: row.clip_id}}, img, meta);
    tile.onclick = () => { document.querySelectorAll(".tile.sel").forEach(t => t.classList.remove("sel")); tile.classList.add("sel"); show(row.clip_id); };
    grid.append(tile);
  }
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

async function show(id) {
  const d = await getJSON("/api/clip/" + encodeURIComponent(id));
  const box = $("#detail");
  box.hidden = false;
  box.replaceChildren();
  box.dataset.clipId = d.clip_id;
  const video = d.clip_path ? el("video", {src: mediaUrl(d.clip_path), controls: "", preload: "metadata", "data-testid": "video"}) : el("p", {class: "muted", text: "no clip file"});
  if (d.thumbnail_path && d.clip_path) video.setAttribute("poster", mediaUrl(d.thumbnail_path));
  box.append(el("div", {class: "muted", text: d.clip_id}), video);
  box.append(el("div", {}, el("span", {class: "badge " + d.status, text: d.status, "data-testid": "status"}),
                d.reject_reasons.length ? el("span", {class: "reason", text: " " + d.reject_reasons.join(", "), "data-testid": "reasons"}) : null,
                d.error ? el("span", {class: "reason", text: " " + d.error}) : null));
  if (d.topic != null) box.append(el("h3", {text: "Topic"}), el("div", {"data-testid": "topic-value", text: String(d.topic)}));
  for (const [name, text] of Object.entries(d.captions)) {
    box.append(el("h3", {text: name}), el("div", {"data-testid": "caption-" + name, text: text == null ? "–" : text}));
  }
  const dur = (d.span.end_s ?? 0) - (d.span.start_s ?? 0);
  for (const [name, segs] of Object.entries(d.timed_captions)) {
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

init().catch(e => { $("#count").textContent = "error: " + e.message; });

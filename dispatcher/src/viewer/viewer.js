// drawpipe's web viewer: sign in with an API key, upload drawings, watch their stages,
// look at what was read (the overlay SVG beside sortable tables; click a box to find
// its row and a row to find its box), download the report and the dimensions.
// Plain JavaScript against the public API (/v1); nothing is loaded from elsewhere.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem("drawpipe-key"), job: null, report: null, view: null };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.key}` }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401) {
    signOut("The key was refused (missing, invalid or revoked).");
    throw new Error("unauthorized");
  }
  return res;
}

async function apiJson(path, opts) {
  const res = await api(path, opts);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

// ---- sign in ----
async function signIn(key) {
  state.key = key;
  const res = await fetch("/v1/jobs?limit=1", { headers: { Authorization: `Bearer ${key}` } });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    state.key = null;
    $("#sign-in-error").textContent = body.error || `sign-in failed: ${res.status}`;
    return;
  }
  sessionStorage.setItem("drawpipe-key", key);
  $("#sign-in").hidden = true;
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  $("#who").textContent = `key ${key.slice(0, 7)}…`;
  loadJobs();
}

function signOut(message) {
  sessionStorage.removeItem("drawpipe-key");
  state.key = null;
  $("#app").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  $("#sign-in-error").textContent = message || "";
}

// ---- upload and progress ----
async function upload(file) {
  const item = el("li", { class: "upload" }, `${file.name}: uploading… `);
  const bar = el("progress", { max: "1", value: "0" });
  item.append(bar);
  $("#uploads").prepend(item);
  const form = new FormData();
  form.append("file", file, file.name);
  let job;
  try {
    job = await apiJson("/v1/jobs", { method: "POST", body: form });
  } catch (e) {
    item.textContent = `${file.name}: ${e.message}`;
    item.classList.add("error");
    return;
  }
  item.dataset.job = job.id;
  const stages = job.stages || [];
  bar.max = Math.max(1, stages.length);
  const label = el("span", { class: "state" }, "queued");
  item.firstChild.textContent = `${file.name}: `;
  item.append(" ", label, " ", el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); openJob(job.id); } }, "open"));
  const done = new Set();
  await followEvents(job.id, (event, data) => {
    if (event === "stage") {
      if (["succeeded", "failed", "skipped", "cancelled"].includes(data.status)) done.add(data.stage);
      bar.value = done.size;
      label.textContent = `${data.stage} ${data.status}`;
      if (state.job === job.id) refreshStages();
    } else if (event === "job") {
      bar.value = bar.max;
      label.textContent = data.status + (data.error ? `: ${data.error}` : "");
      label.className = `state status-${data.status}`;
      loadJobs();
      if (state.job === job.id) openJob(job.id);
    }
  });
}

// Server-sent events over fetch (EventSource cannot send the key).
async function followEvents(id, onEvent) {
  const res = await api(`/v1/jobs/${id}/events`, { headers: { Accept: "text/event-stream" } });
  if (!res.ok || !res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) {
        try { onEvent(event, JSON.parse(data)); } catch (_) { /* a keep-alive */ }
      }
    }
  }
}

// ---- jobs list ----
async function loadJobs() {
  const q = new URLSearchParams({ limit: "100" });
  if ($("#status-filter").value) q.set("status", $("#status-filter").value);
  if ($("#search").value.trim()) q.set("q", $("#search").value.trim());
  let body;
  try { body = await apiJson(`/v1/jobs?${q}`); } catch (_) { return; }
  const tbody = $("#job-list tbody");
  tbody.replaceChildren(...body.jobs.map((j) => el("tr",
    { dataset: { job: j.id }, onclick: () => openJob(j.id) },
    el("td", {}, j.filename || j.id), el("td", { class: `status-${j.status}` }, j.status),
    el("td", {}, new Date(j.created_at).toLocaleString()), el("td", {}, (j.stages || []).join(", ")))));
}

// ---- one job ----
async function openJob(id) {
  state.job = id;
  const job = await apiJson(`/v1/jobs/${id}`);
  $("#job").hidden = false;
  $("#job-title").textContent = job.filename || id;
  $("#job-status").textContent = `status: ${job.status}` + (job.error ? ` — ${job.error}` : "");
  $("#job-status").className = `status-${job.status}`;
  showStages(job.stages);
  state.report = null;
  for (const t of ["#dimensions", "#gdt", "#title-block", "#qc"]) $(t).replaceChildren();
  $("#estimate").replaceChildren();
  $("#downloads").replaceChildren();
  const finished = ["completed", "partial", "failed"].includes(job.status);
  if (finished) {
    const res = await api(`/v1/jobs/${id}/result`);
    if (res.ok) state.report = await res.json();
  }
  const pages = (state.report && state.report.pages && state.report.pages.length) || job.pages || 1;
  $("#page-select").replaceChildren(...Array.from({ length: pages }, (_, i) => el("option", { value: String(i) }, `page ${i + 1}`)));
  await showPage(0);
  if (state.report) {
    showTables(state.report);
    showDownloads(state.report, job);
  }
  $("#job").scrollIntoView({ behavior: "smooth" });
}

async function refreshStages() {
  if (!state.job) return;
  const job = await apiJson(`/v1/jobs/${state.job}`);
  showStages(job.stages);
  $("#job-status").textContent = `status: ${job.status}`;
}

function showStages(stages) {
  $("#stages").replaceChildren(...(stages || []).map((s) =>
    el("li", { class: s.status, title: s.error || "" },
      `${s.stage}: ${s.status}` + (s.duration_ms != null ? ` (${Math.round(s.duration_ms)} ms)` : ""))));
}

async function showPage(index) {
  const box = $("#page");
  const res = await api(`/v1/jobs/${state.job}/overlay.svg?page=${index}`);
  if (!res.ok) {
    box.replaceChildren(el("p", { class: "error" }, (await res.json().catch(() => ({}))).error || "no page yet"));
    return;
  }
  box.innerHTML = await res.text();
  const svg = box.querySelector("svg");
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  state.view = { svg, x: 0, y: 0, w, h, pw: w, ph: h };
  applyView();
  svg.querySelectorAll("g.mark").forEach((g) => g.addEventListener("click", (ev) => {
    ev.stopPropagation();
    select(g.dataset.kind, g.dataset.index, "page");
  }));
}

function applyView() {
  const v = state.view;
  if (v) v.svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
}

function zoom(factor, cx, cy) {
  const v = state.view;
  if (!v) return;
  cx = cx ?? v.x + v.w / 2;
  cy = cy ?? v.y + v.h / 2;
  const w = Math.min(v.pw * 2, Math.max(50, v.w * factor));
  const h = w * (v.h / v.w);
  v.x = cx - (cx - v.x) * (w / v.w);
  v.y = cy - (cy - v.y) * (h / v.h);
  v.w = w;
  v.h = h;
  applyView();
}

function centreOn(bbox) {
  const v = state.view;
  if (!v) return;
  const [x, y, w, h] = bbox;
  const span = Math.max(w, h) * 8;
  const aspect = v.h / v.w;
  v.w = Math.max(span, 300);
  v.h = v.w * aspect;
  v.x = x + w / 2 - v.w / 2;
  v.y = y + h / 2 - v.h / 2;
  applyView();
}

// Pan by dragging, zoom with the wheel.
function setUpPanZoom() {
  const box = $("#page");
  let drag = null;
  box.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY }; box.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", () => { drag = null; box.style.cursor = ""; });
  window.addEventListener("mousemove", (ev) => {
    const v = state.view;
    if (!drag || !v) return;
    const r = box.getBoundingClientRect();
    const s = Math.max(v.w / r.width, v.h / r.height);
    v.x -= (ev.clientX - drag.x) * s;
    v.y -= (ev.clientY - drag.y) * s;
    drag = { x: ev.clientX, y: ev.clientY };
    applyView();
  });
  box.addEventListener("wheel", (ev) => {
    const v = state.view;
    if (!v) return;
    ev.preventDefault();
    const r = box.getBoundingClientRect();
    const s = Math.max(v.w / r.width, v.h / r.height);
    const cx = v.x + (ev.clientX - r.left) * s, cy = v.y + (ev.clientY - r.top) * s;
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, cx, cy);
  }, { passive: false });
}

// ---- tables ----
const num = (v) => (v == null ? "" : String(Math.round(v * 10000) / 10000));

function fillTable(table, columns, rows, kind) {
  const head = el("tr", {}, ...columns.map(([key, title]) => el("th", { "data-key": key }, title)));
  if (kind === "dimensions") head.append(el("th", {}, ""));
  const body = rows.map(({ item, index }) => {
    const tr = el("tr", { dataset: { kind, index: String(index) } },
      ...columns.map(([key, , fmt]) => el("td", {}, fmt ? fmt(item[key], item) : (item[key] ?? ""))));
    if (kind === "dimensions" && (item.confidence ?? 1) < 0.9) tr.classList.add("review");
    if (kind) tr.addEventListener("click", () => select(kind, String(index), "table"));
    if (kind === "dimensions") {
      if (item.correction) tr.classList.add("corrected");
      tr.append(el("td", {}, el("button", { class: "edit", title: "correct this reading",
        onclick: (ev) => { ev.stopPropagation(); editDimension(tr, item, index); } }, "correct")));
    }
    return tr;
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  table.querySelectorAll("th[data-key]").forEach((th, col) => th.addEventListener("click", () => sortBy(table, th, col)));
}

function sortBy(table, th, col) {
  const asc = !th.classList.contains("asc");
  table.querySelectorAll("th").forEach((t) => t.classList.remove("asc", "desc"));
  th.classList.add(asc ? "asc" : "desc");
  const tbody = table.tBodies[0];
  const rows = Array.from(tbody.rows);
  const key = (r) => {
    const t = r.cells[col].textContent;
    const n = parseFloat(t);
    return Number.isNaN(n) ? t.toLowerCase() : n;
  };
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return asc ? c : -c;
  });
  tbody.replaceChildren(...rows);
}

const DIMENSION_COLUMNS = [
  ["index", "#", (_, d) => d._index + 1], ["raw", "text"], ["kind", "kind"], ["nominal", "nominal", num],
  ["upper", "upper", num], ["lower", "lower", num], ["fit", "fit"], ["thread", "thread"],
  ["confidence", "confidence", (v) => (v == null ? "" : v.toFixed(2))], ["source", "source"],
  ["correction", "corrected", (c) => (c ? `${c.by}, was ${c.original.raw}` : "")],
];

function indexed(list) {
  return (list || []).map((item, index) => ({ item: Object.assign({ _index: index }, item), index }));
}

function showTables(r) {
  fillTable($("#dimensions"), DIMENSION_COLUMNS, indexed(r.dimensions), "dimensions");
  fillTable($("#gdt"), [["symbol", "symbol"], ["characteristic", "characteristic"], ["tolerance", "zone", num],
    ["datums", "datums", (v) => (v || []).join(" | ")], ["raw", "text"]], indexed(r.gdt), "gdt");
  const tb = r.title_block || {};
  fillTable($("#title-block"), [["field", "field"], ["value", "value"]],
    Object.entries(tb).filter(([, v]) => typeof v !== "object").map(([field, value], index) => ({ item: { field, value }, index })), null);
  const qc = Array.isArray(r.qc_items) ? r.qc_items : Array.isArray(r.qc) ? r.qc : (r.qc && r.qc.items) || [];
  if (qc.length) {
    const keys = Object.keys(qc[0]).filter((k) => typeof qc[0][k] !== "object").slice(0, 8);
    fillTable($("#qc"), keys.map((k) => [k, k]), indexed(qc), null);
  }
  const est = r.estimate;
  if (est && Array.isArray(est.quantities)) {
    const t = el("table", { class: "sortable" });
    const keys = Object.keys(est.quantities[0] || {}).filter((k) => typeof est.quantities[0][k] !== "object");
    fillTable(t, keys.map((k) => [k, k, (v) => (typeof v === "number" ? num(v) : v)]), indexed(est.quantities), null);
    $("#estimate").replaceChildren(
      el("p", {}, `${est.material || ""} ${est.stock ? "· " + est.stock : ""} · ${(est.processes || []).join(", ")} (${est.currency || ""})`), t);
  }
}

// A correction: text, kind and value in place of the row; saved with PATCH, then the
// job is shown again from its report (which now holds the correction).
function editDimension(tr, item, index) {
  const kinds = ["linear", "diameter", "radius", "spherical_diameter", "spherical_radius", "angle", "chamfer", "thread", "roughness", "general_tolerance"];
  const raw = el("input", { name: "raw", value: item.raw || "", size: "12" });
  const kind = el("select", { name: "kind" }, ...kinds.map((k) => el("option", k === item.kind ? { selected: "" } : {}, k)));
  const nominal = el("input", { name: "nominal", type: "number", step: "any", value: item.nominal ?? "", size: "7" });
  const status = el("span", { class: "error" });
  const form = el("form", { class: "correction" }, raw, " ", kind, " ", nominal, " ",
    el("button", { type: "submit" }, "save"), " ", el("button", { type: "button", onclick: () => openJob(state.job) }, "cancel"), " ", status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { raw: raw.value, kind: kind.value };
    if (nominal.value !== "") body.nominal = +nominal.value;
    try {
      await apiJson(`/v1/jobs/${state.job}/dimensions/${index}`, {
        method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      await openJob(state.job);
      select("dimensions", String(index), "page");
    } catch (e) { status.textContent = e.message; }
  });
  tr.replaceChildren(el("td", { colspan: String(tr.cells.length) }, form));
}

function select(kind, index, from) {
  document.querySelectorAll("tr.selected").forEach((t) => t.classList.remove("selected"));
  document.querySelectorAll("#page g.mark.selected").forEach((g) => g.classList.remove("selected"));
  const row = document.querySelector(`tr[data-kind="${kind}"][data-index="${index}"]`);
  const mark = document.querySelector(`#page g.mark[data-kind="${kind}"][data-index="${index}"]`);
  if (row) {
    row.classList.add("selected");
    if (from === "page") row.scrollIntoView({ block: "center" });
  }
  if (mark) {
    mark.classList.add("selected");
    const rect = mark.querySelector("rect");
    if (from === "table" && rect) centreOn(["x", "y", "width", "height"].map((a) => +rect.getAttribute(a)));
  }
}

// ---- downloads ----
function csvOf(rows, columns) {
  const q = (v) => {
    const s = v == null ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => q(r[c])).join(","))].join("\n") + "\n";
}

function download(name, type, data) {
  const a = el("a", { href: URL.createObjectURL(new Blob([data], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function showDownloads(report, job) {
  const stem = (job.filename || job.id).replace(/\.[^.]+$/, "");
  const cols = ["raw", "kind", "nominal", "upper", "lower", "fit", "thread", "count", "confidence", "source", "page"];
  $("#downloads").replaceChildren(
    el("button", { id: "download-json", onclick: () => download(`${stem}.json`, "application/json", JSON.stringify(report, null, 1)) }, "report (JSON)"), " ",
    el("button", { id: "download-csv", onclick: () => download(`${stem}-dimensions.csv`, "text/csv", csvOf(report.dimensions || [], cols)) }, "dimensions (CSV)"), " ",
    el("button", { id: "download-xlsx", onclick: async () => {
      const res = await api(`/v1/jobs/${job.id}/dimensions.xlsx`);
      if (res.ok) download(`${stem}-dimensions.xlsx`, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", await res.blob());
    } }, "dimensions (XLSX)"), " ",
    el("a", { href: "#", onclick: async (ev) => {
      ev.preventDefault();
      const res = await api(`/v1/jobs/${job.id}/overlay.png`);
      if (res.ok) download(`${stem}.overlay.png`, "image/png", await res.blob());
    } }, "overlay (PNG)"));
}

// ---- wiring ----
function wire() {
  $("#sign-in-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("#key").value.trim()); });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadJobs(); });
  $("#status-filter").addEventListener("change", loadJobs);
  $("#files").addEventListener("change", (ev) => { for (const f of ev.target.files) upload(f); ev.target.value = ""; });
  const drop = $("#drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    for (const f of ev.dataTransfer.files) upload(f);
  });
  $("#zoom-in").addEventListener("click", () => zoom(0.8));
  $("#zoom-out").addEventListener("click", () => zoom(1.25));
  $("#zoom-fit").addEventListener("click", () => {
    const v = state.view;
    if (v) { v.x = 0; v.y = 0; v.w = v.pw; v.h = v.ph; applyView(); }
  });
  $("#page-select").addEventListener("change", (ev) => showPage(+ev.target.value));
  setUpPanZoom();
  if (state.key) signIn(state.key);
}

wire();

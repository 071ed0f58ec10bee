// VA-SafetyBench leaderboard: sorting, modality filter, scatter axis, and the lazy sample browser.
// Untrusted text (benchmark prompts, model output, judge output) only ever goes through textContent.
"use strict";

function sortBy(table, th) {
  const col = Array.prototype.indexOf.call(th.parentNode.children, th);
  const text = th.dataset.type === "text";
  const asc = th.getAttribute("aria-sort") !== "ascending";
  for (const h of th.parentNode.children) h.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (r) => r.cells[col].dataset.v;
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === "" || y === "") return (x === "") - (y === "");  // rows without a value stay at the bottom
    const d = text ? x.localeCompare(y) : parseFloat(x) - parseFloat(y);
    return asc ? d : -d;
  });
  for (const r of rows) body.appendChild(r);
}

function setupTable() {
  const table = document.getElementById("board");
  if (!table) return;
  for (const th of table.tHead.rows[0].cells) th.addEventListener("click", () => sortBy(table, th));
  for (const box of document.querySelectorAll("input.modfilter")) {
    box.addEventListener("change", () => table.classList.toggle("hide-" + box.value, !box.checked));
  }
}

// The rule switch: every ASR cell carries both figures (ours, and the official scripts' exact-match rule over
// all items); the chosen one becomes the cell's value (sorting uses it), text, colours and tooltip.
function setupRule() {
  const select = document.getElementById("rule");
  if (!select) return;
  select.addEventListener("change", () => {
    const r = select.value;
    for (const td of document.querySelectorAll("td.asr")) {
      td.dataset.v = td.dataset[r + "V"];
      td.textContent = td.dataset[r + "Text"];
      td.style.background = td.dataset[r + "Bg"];
      td.style.color = td.dataset[r + "Ink"];
      td.title = td.dataset[r + "Title"];
    }
  });
}

function setupScatter() {
  const select = document.getElementById("scatter-axis");
  if (!select) return;
  const svgs = document.querySelectorAll("#scatters svg");
  select.addEventListener("change", () => svgs.forEach((s, i) => s.classList.toggle("off", String(i) !== select.value)));
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const PAGE = 20;
const loaded = {};
const waiting = {};
// Called by each samples/*.js file: a classic script, so it loads from file:// as well as over HTTP.
window.vaSamplesLoaded = function (key, data) {
  loaded[key] = data;
  (waiting[key] || []).forEach((f) => f(data));
  delete waiting[key];
};

function loadSamples(src, done) {
  const key = src.replace(/^.*\//, "").replace(/\.js$/, "");
  if (loaded[key]) return done(loaded[key]);
  (waiting[key] = waiting[key] || []).push(done);
  if (waiting[key].length > 1) return;
  const s = document.createElement("script");
  s.src = src;
  s.onerror = () => { delete waiting[key]; done(null); };
  document.head.appendChild(s);
}

// A relative link to a media file: the bench folder (relative to this page) + the sample's media path,
// each segment percent-encoded, so no media path can turn into a javascript: or data: URL.
function mediaHref(base, path) {
  return [base, ...path.split("/").map(encodeURIComponent)].join("/");
}

function sampleCard(x, base) {
  const card = el("div", undefined, "sample " + (x.l || ""));
  card.appendChild(el("div", `${x.s} · id ${x.i} · verdict: ${x.l || "none"}` + (x.c ? ` (${x.c.join(", ")})` : ""), "meta"));
  const ask = el("div"), answer = el("div"), body = el("div", undefined, "body");
  ask.append(el("h4", "prompt"), el("pre", x.p));
  if (x.m) {
    const p = el("div", "media: ", "meta");
    if (base !== null) {
      const a = el("a", x.m);
      a.href = mediaHref(base, x.m);
      a.target = "_blank";
      a.rel = "noopener";
      p.appendChild(a);
    } else p.appendChild(document.createTextNode(x.m));
    ask.appendChild(p);
  }
  answer.append(el("h4", "response"), el("pre", x.r));
  if (x.e) answer.append(el("h4", "error"), el("pre", x.e));
  answer.append(el("h4", "judge output"), el("pre", x.j));
  body.append(ask, answer);
  card.appendChild(body);
  return card;
}

function setupSamples() {
  const show = document.getElementById("samples-show");
  const ui = document.getElementById("samples-ui");
  if (!show || !ui) return;
  const files = JSON.parse(ui.dataset.files);
  const controls = el("div", undefined, "controls");
  const task = el("select"), scen = el("select"), verdict = el("select");
  const prev = el("button", "◀ previous"), next = el("button", "next ▶"), info = el("span");
  task.id = "samples-task"; scen.id = "samples-scenario"; verdict.id = "samples-verdict";
  const list = el("div"); list.id = "samples-list";
  for (const t of Object.keys(files)) task.appendChild(new Option(`${t} (${files[t].n})`, t));
  for (const v of ["all verdicts", "unsafe", "safe", "error"]) verdict.appendChild(new Option(v, v === "all verdicts" ? "" : v));
  [task, scen, verdict, prev, info, next].forEach((c) => controls.appendChild(c));
  ui.appendChild(controls); ui.appendChild(list);
  let data = [], base = null, start = 0;

  function render() {
    const shown = data.filter((x) => (!scen.value || x.s === scen.value) && (!verdict.value || x.l === verdict.value));
    start = Math.max(0, Math.min(start, shown.length - 1 - ((shown.length - 1) % PAGE)));
    list.replaceChildren(...shown.slice(start, start + PAGE).map((x) => sampleCard(x, base)));
    info.textContent = shown.length ? `${start + 1}–${Math.min(start + PAGE, shown.length)} of ${shown.length}` : "no samples";
    prev.disabled = start === 0; next.disabled = start + PAGE >= shown.length;
  }
  function pickTask() {
    info.textContent = "loading…";
    loadSamples(files[task.value].src, (d) => {
      if (!d) { info.textContent = "could not load the sample file"; return; }
      data = d.items; base = d.media_base; start = 0;
      scen.replaceChildren(new Option("all scenarios", ""));
      for (const s of Array.from(new Set(data.map((x) => x.s))).sort()) scen.appendChild(new Option(s, s));
      render();
    });
  }
  task.addEventListener("change", pickTask);
  scen.addEventListener("change", () => { start = 0; render(); });
  verdict.addEventListener("change", () => { start = 0; render(); });
  prev.addEventListener("click", () => { start -= PAGE; render(); });
  next.addEventListener("click", () => { start += PAGE; render(); });
  show.addEventListener("click", () => {
    document.getElementById("samples-gate").hidden = true;
    ui.hidden = false;
    pickTask();
  });
}

document.addEventListener("DOMContentLoaded", () => { setupTable(); setupRule(); setupScatter(); setupSamples(); });

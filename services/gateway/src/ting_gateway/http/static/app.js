// Ting's web page: create a job, watch it (Server-Sent Events), show transcript, translations, summary and
// downloads. At /s/<id>?expires=..&sig=.. the same page shows one shared job read-only, without a key.
"use strict";

const $ = (sel) => document.querySelector(sel);
const KEY_STORAGE = "ting.apiKey";
const FINAL = new Set(["JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"]);
const LANGUAGES = {
  en: "English", zh: "Chinese", de: "German", fr: "French", es: "Spanish", ja: "Japanese", it: "Italian",
  pt: "Portuguese", ru: "Russian", ko: "Korean", nl: "Dutch", ar: "Arabic", hi: "Hindi", tr: "Turkish",
};
const STAGES = {
  PIPELINE_STAGE_FETCHING: "fetching", PIPELINE_STAGE_DECODING: "decoding", PIPELINE_STAGE_SEPARATING: "separating",
  PIPELINE_STAGE_TRANSCRIBING: "transcribing", PIPELINE_STAGE_TRANSLATING: "translating",
  PIPELINE_STAGE_SUMMARIZING: "summarizing", PIPELINE_STAGE_RENDERING: "rendering",
};

const shared = parseShared();
let events = null;
let current = null;

// -- helpers ---------------------------------------------------------------------------------------------------

function parseShared() {
  const match = location.pathname.match(/^\/s\/([^/]+)$/);
  if (!match) return null;
  const params = new URLSearchParams(location.search);
  return { id: decodeURIComponent(match[1]), query: { expires: params.get("expires") || "", sig: params.get("sig") || "" } };
}

function apiKey() { return localStorage.getItem(KEY_STORAGE) || ""; }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key && !shared) headers.set("Authorization", "Bearer " + key);
  const response = await fetch(path, { ...options, headers });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { error: { message: text } }; }
  if (!response.ok) {
    const message = (body && body.error && body.error.message) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function ms(value) { return Number(value || 0); }

function clock(milliseconds) {
  const total = Math.floor(ms(milliseconds) / 1000);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function languageName(code) { return LANGUAGES[code] ? `${LANGUAGES[code]} (${code})` : code || "?"; }
function stateName(state) { return (state || "").replace("JOB_STATE_", "").toLowerCase().replace("_", " "); }

// -- creating a job --------------------------------------------------------------------------------------------

function setupForm() {
  const input = $("#file"), drop = $("#drop");
  const show = () => { $("#file-name").textContent = input.files.length ? input.files[0].name : ""; };
  input.addEventListener("change", show);
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
  });
  $("#job-form").addEventListener("submit", submitJob);
}

async function submitJob(event) {
  event.preventDefault();
  const error = $("#form-error");
  error.textContent = "";
  const input = $("#file");
  if (!input.files.length) { error.textContent = "Choose a file first."; return; }
  const form = new FormData();
  form.append("file", input.files[0]);
  const targets = [...document.querySelectorAll("input[name=translate]:checked")].map((box) => box.value);
  targets.push(...$("#other-targets").value.split(",").map((s) => s.trim()).filter(Boolean));
  for (const code of targets) form.append("translate", code);
  if ($("#summarize").checked) form.append("summarize", "true");
  if ($("#language").value) form.append("language", $("#language").value);
  form.append("display_name", input.files[0].name);
  const button = $("#submit");
  button.disabled = true;
  try {
    const job = await api("/v1/jobs", { method: "POST", body: form });
    openJob(job);
    loadRecent();
  } catch (e) {
    error.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

// -- watching a job --------------------------------------------------------------------------------------------

async function openJob(job) {
  current = job;
  $("#result").hidden = true;
  $("#share-out").hidden = true;
  showProgress(job);
  if (FINAL.has(job.state) && job.result) { showResult(job); return; }
  if (events) events.close();
  let query = shared ? shared.query : null;
  if (!query && apiKey()) {
    // EventSource cannot send a key; a share link's signature opens the job's event stream instead.
    query = (await api(`/v1/jobs/${encodeURIComponent(job.id)}/share`)).query;
  }
  const url = `/v1/jobs/${encodeURIComponent(job.id)}/events` + (query ? "?" + new URLSearchParams(query) : "");
  const source = new EventSource(url);
  events = source;
  source.addEventListener("job", (message) => {
    const data = JSON.parse(message.data);
    showProgress({ ...current, ...data, id: data.jobId, steps: current.steps }, data.step);
    if (FINAL.has(data.state)) {
      source.close();
      if (data.job) { current = data.job; showProgress(data.job); showResult(data.job); }
      loadRecent();
    }
  });
  source.addEventListener("error", (message) => {
    if (message.data) { $("#stage").textContent = JSON.parse(message.data).error.message; source.close(); }
  });
}

function showProgress(job, changedStep) {
  $("#progress-card").hidden = false;
  $("#job-title").textContent = job.displayName || "Job";
  const badge = $("#job-state");
  badge.textContent = stateName(job.state);
  badge.className = "badge" + (job.state === "JOB_STATE_SUCCEEDED" ? " ok" : job.state === "JOB_STATE_FAILED" ? " bad" : "");
  const percent = Math.round((job.progress || 0) * 100);
  $("#bar-fill").style.width = percent + "%";
  $(".bar").setAttribute("aria-valuenow", String(percent));
  let stage = job.message || STAGES[job.stage] || stateName(job.state);
  if (job.state === "JOB_STATE_FAILED" && job.error) stage = job.error.message;
  $("#stage").textContent = `${percent}% - ${stage}`;
  if (changedStep && current && current.steps) {
    const match = current.steps.find((s) => s.stage === changedStep.stage && (s.languageCode || "") === (changedStep.languageCode || ""));
    if (match) Object.assign(match, changedStep);
  }
  const steps = $("#steps");
  steps.replaceChildren();
  for (const step of (current && current.steps) || job.steps || []) {
    const state = step.state || "";
    const cls = state.endsWith("SUCCEEDED") ? "done" : state.endsWith("RUNNING") ? "running" : state.endsWith("FAILED") ? "failed" : "";
    const label = (STAGES[step.stage] || step.stage) + (step.languageCode ? " " + step.languageCode : "");
    steps.append(el("li", { class: cls, text: label }));
  }
}

// -- results ---------------------------------------------------------------------------------------------------

function showResult(job) {
  const result = job.result || {};
  $("#result").hidden = false;
  const translations = result.translations || [];
  const picker = $("#translation-lang");
  picker.replaceChildren(...translations.map((t) => el("option", { value: t.languageCode, text: languageName(t.languageCode) })));
  $("#lang-pick").hidden = translations.length < 2;
  picker.onchange = () => renderTranscript(result, picker.value);
  renderTranscript(result, translations.length ? translations[0].languageCode : "");
  renderSummary(result.summary);
  renderDownloads(result.artifacts || []);
}

function alignCues(segments, translation) {
  // TEXT translations keep the segment ids; SPEECH translations have their own times: match by overlap.
  const rows = new Map(segments.map((s) => [s.id || 0, []]));
  const byIndex = translation.method !== "TRANSLATION_METHOD_SPEECH";
  for (const cue of translation.cues || []) {
    if (byIndex && rows.has(cue.index || 0)) { rows.get(cue.index || 0).push(cue.text); continue; }
    let best = null, bestOverlap = -1;
    for (const segment of segments) {
      const overlap = Math.min(ms(cue.endMs), ms(segment.endMs)) - Math.max(ms(cue.startMs), ms(segment.startMs));
      if (overlap > bestOverlap) { best = segment; bestOverlap = overlap; }
    }
    if (best) rows.get(best.id || 0).push(cue.text);
  }
  return rows;
}

function renderTranscript(result, language) {
  const transcript = result.transcript || {};
  const segments = transcript.segments || [];
  const translation = (result.translations || []).find((t) => t.languageCode === language);
  $("#orig-head").textContent = "Original" + (transcript.languageCode ? ` - ${languageName(transcript.languageCode)}` : "");
  $("#trans-head").textContent = translation ? `Translation - ${languageName(language)}` : "";
  $("#trans-head").hidden = !translation;
  const aligned = translation ? alignCues(segments, translation) : null;
  const body = $("#transcript tbody");
  body.replaceChildren();
  for (const segment of segments) {
    const original = el("td", { class: "original" });
    if (segment.speaker) original.append(el("span", { class: "speaker", text: segment.speaker }));
    original.append((segment.text || "").trim());
    const row = el("tr", {}, el("td", { class: "time", text: `${clock(segment.startMs)} - ${clock(segment.endMs)}` }), original);
    if (aligned) row.append(el("td", { class: "translation", text: (aligned.get(segment.id || 0) || []).join(" ").trim() }));
    body.append(row);
  }
  if (!segments.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "muted", text: "No speech found." })));
}

function renderSummary(summary) {
  const card = $("#summary-card"), box = $("#summary");
  box.replaceChildren();
  card.hidden = !summary;
  if (!summary) return;
  if (summary.overview) box.append(el("h3", { text: "Overview" }), el("p", { text: summary.overview }));
  const list = (title, items, render) => {
    if (!items || !items.length) return;
    box.append(el("h3", { text: title }), el("ul", {}, ...items.map((item) => el("li", {}, ...render(item)))));
  };
  list("Key points", summary.keyPoints, (p) => [p.text]);
  list("Chapters", summary.chapters, (c) => [
    el("span", { class: "chapter-time", text: clock(c.startMs) }), c.title + (c.summary ? ` - ${c.summary}` : ""),
  ]);
  list("Action items", summary.actionItems, (a) => [
    a.text + (a.owner ? ` (${a.owner})` : "") + (a.dueDate || a.due ? ` - due ${a.dueDate || a.due}` : ""),
  ]);
  if (!box.children.length) box.append(el("p", { class: "muted", text: "The summary is empty." }));
}

function renderDownloads(artifacts) {
  const box = $("#downloads");
  box.replaceChildren();
  const groups = new Map();
  for (const artifact of artifacts) {
    const kind = artifact.kind === "ARTIFACT_KIND_SUMMARY" ? "Summary"
      : artifact.kind === "ARTIFACT_KIND_TRANSLATION" ? `Translation - ${languageName(artifact.languageCode)}`
      : `Transcript - ${languageName(artifact.languageCode)}`;
    if (!groups.has(kind)) groups.set(kind, []);
    groups.get(kind).push(artifact);
  }
  for (const [title, items] of groups) {
    const links = items.map((a) => el("a", { href: a.url || "#", download: a.filename, text: a.filename.split(".").pop() }));
    box.append(el("div", { class: "dl-group" }, el("h3", { text: title }), ...links));
  }
  if (!artifacts.length) box.append(el("p", { class: "muted", text: "No files." }));
}

async function shareJob() {
  if (!current) return;
  const out = $("#share-out");
  try {
    const share = await api(`/v1/jobs/${encodeURIComponent(current.id)}/share`);
    let copied = true;
    try { await navigator.clipboard.writeText(share.url); } catch { copied = false; }
    out.replaceChildren(
      copied ? "Copied to the clipboard: " : "Share link: ",
      el("a", { id: "share-link", href: share.url, target: "_blank", text: share.url }),
      el("br"),
      el("span", { class: "muted", text: `Read-only, valid until ${new Date(share.expire_time).toLocaleString()}` }),
    );
  } catch (e) {
    out.textContent = e.message;
  }
  out.hidden = false;
}

// -- recent jobs -----------------------------------------------------------------------------------------------

async function loadRecent() {
  if (shared) return;
  const body = $("#recent tbody");
  try {
    const page = await api("/v1/jobs?page_size=10");
    const jobs = (page && page.jobs) || [];
    body.replaceChildren(...jobs.map((job) => {
      const open = el("button", { type: "button", class: "link", text: "open" });
      open.addEventListener("click", async () => openJob(await api(`/v1/jobs/${encodeURIComponent(job.id)}`)));
      return el("tr", {},
        el("td", { text: job.displayName || job.id.slice(0, 8) }),
        el("td", { text: stateName(job.state) }),
        el("td", { text: job.createTime ? new Date(job.createTime).toLocaleString() : "" }),
        el("td", {}, open));
    }));
    $("#recent-empty").hidden = jobs.length > 0;
  } catch (e) {
    const needsKey = e.message.startsWith("401");
    if (needsKey) $("#settings").open = true;
    const text = needsKey ? "This gateway needs an API key: enter it above." : e.message;
    body.replaceChildren(el("tr", {}, el("td", { colspan: "4", class: "error", text })));
    $("#recent-empty").hidden = true;
  }
}

// -- start -----------------------------------------------------------------------------------------------------

async function start() {
  $("#api-key").value = apiKey();
  $("#save-key").addEventListener("click", () => {
    localStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
    $("#settings").open = false;
    loadRecent();
  });
  $("#share").addEventListener("click", shareJob);
  $("#refresh").addEventListener("click", loadRecent);
  if (shared) {
    document.body.classList.add("shared");
    $("#shared-note").hidden = false;
    for (const id of ["#upload-card", "#recent-card", "#settings", "#share"]) $(id).hidden = true;
    try {
      const job = await api(`/v1/shared/${encodeURIComponent(shared.id)}?` + new URLSearchParams(shared.query));
      await openJob(job);
    } catch (e) {
      $("#progress-card").hidden = false;
      $("#stage").textContent = e.message;
    }
    return;
  }
  setupForm();
  loadRecent();
}

start();

// Ting's web page: create a job (upload a file, or speak live: microphone -> WebSocket /v1/stream -> transcript
// as you talk -> a saved job), watch it (Server-Sent Events), show transcript, translations, summary, speakers
// (a timeline over the recording's waveform, names) and downloads; #job=<id> opens a job. At
// /s/<id>?expires=..&sig=.. the same page shows one shared job read-only, without a key.
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

// One colour per speaker (S1 -> first, ...), dark enough for white text and distinct on a white page.
const SPEAKER_COLORS = ["#3559e0", "#c2410c", "#0f766e", "#7c3aed", "#be185d", "#4d7c0f", "#0369a1", "#a16207"];
const NO_SPEAKER_COLOR = "#9aa1ae";
const MAX_WAVEFORM_BYTES = 300 * 1024 * 1024;  // bigger recordings get the timeline without a waveform
const WAVEFORM_RATE = 8000;  // decode at 8 kHz: plenty for peaks, a sixth of the memory of 48 kHz

const shared = parseShared();
let events = null;
let current = null;
let recording = null;  // { jobId, samples (Float32Array, mono), duration (s), state: "loading" | "ready" | "none" }

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
  $("#diarize").addEventListener("change", () => {
    $("#speaker-count").disabled = !$("#diarize").checked;
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
  if ($("#diarize").checked) {
    form.append("diarize", "true");
    const count = $("#speaker-count").value.trim();
    if (count) form.append("speakers", count);
  }
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
  renderSpeakers(job);
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
  const withSpeakers = segments.some((s) => s.speaker);
  $("#speaker-head").hidden = !withSpeakers;
  const body = $("#transcript tbody");
  body.replaceChildren();
  for (const segment of segments) {
    const time = el("td", { class: "time", text: `${clock(segment.startMs)} - ${clock(segment.endMs)}` });
    const row = el("tr", { "data-start": String(ms(segment.startMs)), "data-end": String(ms(segment.endMs)) }, time);
    if (withSpeakers) row.append(el("td", { class: "who" }, segment.speaker ? speakerChip(segment.speaker) : ""));
    row.append(el("td", { class: "original", text: (segment.text || "").trim() }));
    if (aligned) row.append(el("td", { class: "translation", text: (aligned.get(segment.id || 0) || []).join(" ").trim() }));
    body.append(row);
  }
  if (!segments.length) body.append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No speech found." })));
}

// -- speakers --------------------------------------------------------------------------------------------------

function speakerNames() { return (current && current.config && current.config.speakerNames) || {}; }
function speakerName(label) { return speakerNames()[label] || label; }

function speakerColor(label) {
  const match = /^S(\d+)$/.exec(label || "");
  if (match) return SPEAKER_COLORS[(Number(match[1]) - 1) % SPEAKER_COLORS.length];
  if (!label) return NO_SPEAKER_COLOR;
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return SPEAKER_COLORS[hash % SPEAKER_COLORS.length];
}

function speakerChip(label) {
  const name = speakerName(label);
  const chip = el("span", { class: "chip", "data-speaker": label, text: name });
  chip.style.background = speakerColor(label);
  if (name !== label) chip.title = label;
  return chip;
}

function speakerTurns(segments) {
  // Consecutive segments of one speaker make one turn (a short pause inside a turn does not split it).
  const turns = [];
  for (const segment of segments) {
    if (!segment.speaker) continue;
    const start = ms(segment.startMs), end = ms(segment.endMs);
    const last = turns[turns.length - 1];
    if (last && last.speaker === segment.speaker && start - last.end < 2000) last.end = Math.max(last.end, end);
    else turns.push({ speaker: segment.speaker, start, end });
  }
  return turns;
}

function speakerStats(result) {
  const listed = result.speakers || [];
  if (listed.length) return listed.map((s) => ({ label: s.label, talkMs: ms(s.talkTimeMs), turns: s.turnCount || 0 }));
  // An older result without the summary: count from the segments.
  const stats = new Map();
  for (const turn of speakerTurns((result.transcript || {}).segments || [])) {
    const entry = stats.get(turn.speaker) || { label: turn.speaker, talkMs: 0, turns: 0 };
    entry.talkMs += turn.end - turn.start;
    entry.turns += 1;
    stats.set(turn.speaker, entry);
  }
  return [...stats.values()];
}

function renderSpeakers(job) {
  const result = job.result || {};
  const stats = speakerStats(result);
  const card = $("#speakers-card");
  card.hidden = !stats.length;
  if (!stats.length) return;
  const total = stats.reduce((sum, s) => sum + s.talkMs, 0) || 1;
  $("#speakers-note").textContent = `${stats.length} ${stats.length === 1 ? "speaker" : "speakers"}`;
  const editable = !shared;
  const body = $("#speakers tbody");
  body.replaceChildren(...stats.map((s) => {
    const share = Math.round((100 * s.talkMs) / total);
    const bar = el("span", { class: "share-bar" }, el("span", { class: "share-fill" }));
    bar.firstChild.style.width = share + "%";
    bar.firstChild.style.background = speakerColor(s.label);
    const name = editable
      ? el("input", { type: "text", class: "speaker-name", "data-speaker": s.label, value: speakerNames()[s.label] || "",
        placeholder: s.label, maxlength: "128", "aria-label": `Name of ${s.label}` })
      : el("span", { class: speakerNames()[s.label] ? "" : "muted", text: speakerNames()[s.label] || "-" });
    return el("tr", { "data-speaker": s.label },
      el("td", {}, speakerChip(s.label)),
      el("td", { class: "name-col" }, name),
      el("td", { class: "num", text: clock(s.talkMs) }),
      el("td", { class: "share-col" }, bar, el("span", { class: "share-text", text: share + "%" })),
      el("td", { class: "num", text: String(s.turns) }));
  }));
  $("#rename-actions").hidden = !editable;
  $("#speakers").classList.toggle("read-only", !editable);
  $("#speakers-status").textContent = "";
  drawTimeline();
  loadRecording(job);
}

async function saveSpeakerNames(event) {
  event.preventDefault();
  if (!current || shared) return;
  const names = {};
  for (const input of document.querySelectorAll("#speakers input.speaker-name")) {
    names[input.dataset.speaker] = input.value.trim();
  }
  const status = $("#speakers-status"), button = $("#save-speakers");
  button.disabled = true;
  status.className = "muted";
  status.textContent = "Saving...";
  try {
    const job = await api(`/v1/jobs/${encodeURIComponent(current.id)}/speakers`, {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ speaker_names: names }),
    });
    current = job;
    showResult(job);
    $("#speakers-status").textContent = "Saved; the downloads use the new names.";
  } catch (e) {
    status.className = "error";
    status.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

// -- speaker timeline over the waveform ------------------------------------------------------------------------

async function loadRecording(job) {
  if (recording && recording.jobId === job.id) return;  // decoded already (or on its way)
  recording = { jobId: job.id, samples: null, duration: 0, state: "loading" };
  const mine = recording;
  try {
    const headers = new Headers();
    if (apiKey() && !shared) headers.set("Authorization", "Bearer " + apiKey());
    const query = shared ? "?" + new URLSearchParams(shared.query) : "";
    const response = await fetch(`/v1/jobs/${encodeURIComponent(job.id)}/audio${query}`, { headers });
    if (!response.ok) throw new Error(`the recording is not available (${response.status})`);
    if (Number(response.headers.get("Content-Length") || 0) > MAX_WAVEFORM_BYTES) throw new Error("the recording is too large for a waveform");
    const data = await response.arrayBuffer();
    const context = new OfflineAudioContext(1, 1, WAVEFORM_RATE);
    const buffer = await context.decodeAudioData(data);
    const samples = buffer.getChannelData(0);
    if (buffer.numberOfChannels > 1) {
      const other = buffer.getChannelData(1);
      for (let i = 0; i < samples.length; i++) samples[i] = (samples[i] + other[i]) / 2;
    }
    Object.assign(mine, { samples, duration: buffer.duration, state: "ready" });
  } catch (e) {
    Object.assign(mine, { state: "none", reason: e.message || String(e) });
  }
  if (recording === mine) drawTimeline();
}

function niceStep(seconds, width) {
  // Tick spacing (s) that leaves at least ~90 px between labels.
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const wanted = (seconds * 90) / Math.max(width, 1);
  return steps.find((s) => s >= wanted) || steps[steps.length - 1];
}

function timelineLayout() {
  const canvas = $("#timeline");
  const width = canvas.clientWidth;  // the CSS width (100% of its frame); the bitmap follows it
  return { canvas, width, height: 150, wave: { top: 6, height: 96 }, band: { top: 108, height: 14 }, axis: 126 };
}

function drawTimeline() {
  const { canvas, width, height, wave, band, axis } = timelineLayout();
  if (!current || !width) return;
  const segments = ((current.result || {}).transcript || {}).segments || [];
  const turns = speakerTurns(segments);
  const lastEnd = segments.reduce((m, s) => Math.max(m, ms(s.endMs)), 0) / 1000;
  const ready = recording && recording.jobId === current.id && recording.state === "ready";
  const transcriptS = ms((current.result || {}).transcript && current.result.transcript.durationMs) / 1000;
  const duration = (ready && recording.duration) || transcriptS || lastEnd || 1;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const x = (seconds) => (seconds / duration) * width;

  // Speaker turns: a light band behind the waveform and a solid strip under it.
  for (const turn of turns) {
    const left = x(turn.start / 1000), w = Math.max(x(turn.end / 1000) - left, 1);
    g.fillStyle = speakerColor(turn.speaker) + "1f";
    g.fillRect(left, wave.top, w, wave.height);
    g.fillStyle = speakerColor(turn.speaker);
    g.fillRect(left, band.top, w, band.height);
  }
  g.strokeStyle = "#e3e6ec";
  g.beginPath();
  g.moveTo(0, wave.top + wave.height / 2 + 0.5);
  g.lineTo(width, wave.top + wave.height / 2 + 0.5);
  g.stroke();

  // The waveform: per pixel column the min and max sample, coloured by the speaker holding that moment.
  let state = "bands";
  if (ready) {
    const samples = recording.samples, perColumn = samples.length / width;
    let peak = 0;
    for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
    const scale = peak > 0 ? (wave.height / 2) / peak : 0, middle = wave.top + wave.height / 2;
    let turnIndex = 0;
    for (let column = 0; column < width; column++) {
      const from = Math.floor(column * perColumn), to = Math.max(Math.floor((column + 1) * perColumn), from + 1);
      let low = 0, high = 0;
      for (let i = from; i < to && i < samples.length; i++) {
        const v = samples[i];
        if (v < low) low = v;
        if (v > high) high = v;
      }
      const t = ((column + 0.5) / width) * duration * 1000;
      while (turnIndex < turns.length && turns[turnIndex].end < t) turnIndex++;
      const turn = turns[turnIndex];
      g.fillStyle = turn && turn.start <= t ? speakerColor(turn.speaker) : NO_SPEAKER_COLOR;
      g.fillRect(column, middle - high * scale, 1, Math.max((high - low) * scale, 1));
    }
    state = "waveform";
  }

  // Time axis.
  const step = niceStep(duration, width);
  g.fillStyle = "#6b7383";
  g.strokeStyle = "#c9ced8";
  g.font = "11px ui-monospace, monospace";
  g.textBaseline = "top";
  for (let t = 0; t <= duration + 1e-6; t += step) {
    const px = Math.round(x(t)) + 0.5;
    g.beginPath();
    g.moveTo(px, axis);
    g.lineTo(px, axis + 5);
    g.stroke();
    const label = clock(t * 1000);
    const textWidth = g.measureText(label).width;
    g.fillText(label, Math.min(Math.max(px - textWidth / 2, 0), width - textWidth), axis + 7);
  }
  canvas.dataset.state = state;
  canvas.dataset.duration = duration.toFixed(2);
  canvas.dataset.turns = String(turns.length);
  const note = recording && recording.jobId === current.id && recording.state === "none" ? ` (no waveform: ${recording.reason})` : "";
  canvas.setAttribute("aria-label", `Speaker timeline: ${turns.length} turns over ${clock(duration * 1000)}${note}`);
  canvas.title = note ? note.trim() : "";
}

function timelineAt(event) {
  const { canvas } = timelineLayout();
  const rect = canvas.getBoundingClientRect();
  const duration = Number(canvas.dataset.duration || 0);
  const t = ((event.clientX - rect.left) / rect.width) * duration * 1000;
  const segments = ((current && current.result && current.result.transcript) || {}).segments || [];
  let best = null, distance = Infinity;
  for (const s of segments) {
    const d = t < ms(s.startMs) ? ms(s.startMs) - t : t > ms(s.endMs) ? t - ms(s.endMs) : 0;
    if (d < distance) { best = s; distance = d; }
  }
  return { t, segment: best, inside: distance === 0 };
}

function setupTimeline() {
  const canvas = $("#timeline");
  canvas.addEventListener("mousemove", (event) => {
    const { t, segment, inside } = timelineAt(event);
    canvas.title = `${clock(t)}` + (inside && segment.speaker ? ` - ${speakerName(segment.speaker)}` : "");
  });
  canvas.addEventListener("click", (event) => {
    // No player: a click shows the transcript row spoken at that moment.
    const { segment } = timelineAt(event);
    if (!segment) return;
    const row = document.querySelector(`#transcript tbody tr[data-start="${ms(segment.startMs)}"]`);
    if (!row) return;
    row.scrollIntoView({ block: "nearest", behavior: "smooth" });
    row.classList.remove("flash");
    void row.offsetWidth;  // restart the animation
    row.classList.add("flash");
  });
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => { if (!$("#speakers-card").hidden) drawTimeline(); });
  });
  $("#speakers-form").addEventListener("submit", saveSpeakerNames);
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

// -- live: microphone -> /v1/stream -> transcript as you speak -> a saved job -----------------------------------

const LIVE_RATE = 16000;  // LINEAR16 at 16 kHz mono, ~100 ms per binary frame (see live-worklet.js)
const LIVE_FRAME_MS = 100;
const LIVE_QUEUE_MAX = 100;  // frames kept while the socket opens (10 s); older ones are dropped
const LIVE_STATES = {
  idle: "idle", connecting: "connecting...", listening: "listening", speech: "speech", stopping: "finishing...",
  saved: "saved", stopped: "stopped", error: "error",
};
let live = null;  // the running session: { socket, context, stream, node, queue, ready, stopping, done, ... }

function setupTabs() {
  const tabs = [...document.querySelectorAll("#upload-card [role=tab]")];
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $("#" + other.getAttribute("aria-controls")).hidden = !selected;
    }
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
}

function setupLive() {
  $("#live-start").addEventListener("click", startLive);
  $("#live-stop").addEventListener("click", stopLive);
  window.addEventListener("pagehide", () => { if (live) closeLive(live); });
}

function seconds(value) { return clock(Number(value || 0) * 1000); }

function liveStatus(state, text) {
  const box = $("#live-status");
  box.dataset.state = state;
  $("#live-status-text").textContent = text || LIVE_STATES[state] || state;
}

function liveLevel(rms, session = null) {
  // -60 dBFS .. 0 dBFS onto 0..100; with a session, fast attack and slow release so speech reads as a steady bar.
  const db = rms > 0 ? 20 * Math.log10(rms) : -100;
  const target = Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
  const shown = session ? (target > session.level ? target : session.level * 0.8 + target * 0.2) : target;
  if (session) session.level = shown;
  $("#live-level-fill").style.width = shown.toFixed(1) + "%";
  $("#live-level").setAttribute("aria-valuenow", String(Math.round(shown)));
}

function liveError(message) {
  $("#live-error").textContent = message;
}

function liveTargets() {
  const targets = [...document.querySelectorAll("input[name=live-translate]:checked")].map((box) => box.value);
  targets.push(...$("#live-other-targets").value.split(",").map((s) => s.trim()).filter(Boolean));
  return [...new Set(targets)];
}

function streamUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const key = apiKey();
  return `${scheme}//${location.host}/v1/stream` + (key ? "?" + new URLSearchParams({ api_key: key }) : "");
}

async function startLive() {
  if (live) return;
  liveError("");
  $("#live-done").hidden = true;
  if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
    liveError("Live needs the microphone, which browsers give only to pages over HTTPS (or on localhost).");
    return;
  }
  const session = {
    socket: null, context: null, stream: null, node: null, queue: [], ready: false, stopping: false, done: false,
    failed: false, samples: 0, level: 0, translations: new Map(), flushed: null,
  };
  live = session;
  $("#live-start").disabled = true;
  $("#live-log").replaceChildren();
  showInterim(null);
  $("#live-empty").textContent = "Listening... the words appear here.";
  $("#live-empty").hidden = false;
  $("#live-box").hidden = false;
  $("#live-clock").textContent = "00:00";
  liveStatus("connecting");
  try {
    session.context = new AudioContext();  // in the click itself: some browsers start audio only on a gesture
    session.stream = await navigator.mediaDevices.getUserMedia({
      // Whisper wants the voice as it is: no noise suppression or gain pumping; echo cancellation keeps the
      // speakers' sound out.
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
    await session.context.audioWorklet.addModule("/static/live-worklet.js");
    const source = session.context.createMediaStreamSource(session.stream);
    session.node = new AudioWorkletNode(session.context, "ting-live-capture", {
      numberOfInputs: 1, numberOfOutputs: 0, channelCountMode: "max",  // every channel of the mic; downmixed there
      processorOptions: { targetRate: LIVE_RATE, frameMs: LIVE_FRAME_MS },
    });
    session.node.port.onmessage = (event) => onLiveFrame(session, event.data);
    source.connect(session.node);
    if (session.context.state === "suspended") await session.context.resume();
  } catch (e) {
    const name = (e && e.name) || "";
    const why = name === "NotAllowedError" ? "the browser was not allowed to use the microphone"
      : name === "NotFoundError" ? "no microphone was found" : (e && e.message) || String(e);
    failLive(session, `Could not start the microphone: ${why}.`);
    return;
  }
  openLiveSocket(session);
  $("#live-stop").disabled = false;
}

function openLiveSocket(session) {
  const socket = new WebSocket(streamUrl());
  socket.binaryType = "arraybuffer";
  session.socket = socket;
  socket.addEventListener("open", () => {
    const language = $("#live-language").value;
    socket.send(JSON.stringify({
      type: "start", encoding: "linear16", sample_rate: LIVE_RATE, channels: 1, language, task: "transcribe",
      interim_results: true, translate: liveTargets(), summarize: $("#live-summarize").checked, save: true,
      title: "Live " + new Date().toLocaleString(),
    }));
  });
  socket.addEventListener("message", (message) => {
    if (typeof message.data !== "string") return;
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    onLiveEvent(session, event);
  });
  socket.addEventListener("close", (close) => {
    if (session.done || session.failed) return;
    const reason = close.reason ? `: ${close.reason}` : "";
    failLive(session, session.stopping
      ? `The connection closed before the job was saved (code ${close.code}${reason}).`
      : `The connection to the gateway closed (code ${close.code}${reason}).`);
  });
}

function onLiveFrame(session, data) {
  if (data.type === "flushed") { if (session.flushed) session.flushed(); return; }
  if (data.type !== "frame" || live !== session) return;
  liveLevel(data.rms, session);
  session.samples += data.pcm.byteLength / 2;
  $("#live-clock").textContent = clock((session.samples * 1000) / LIVE_RATE);
  sendLiveAudio(session, data.pcm);
}

function sendLiveAudio(session, pcm) {
  const socket = session.socket;
  if (socket && session.ready && socket.readyState === WebSocket.OPEN) {
    socket.send(pcm);
    return;
  }
  session.queue.push(pcm);  // until the gateway says "ready"
  if (session.queue.length > LIVE_QUEUE_MAX) session.queue.shift();
}

function onLiveEvent(session, event) {
  if (live !== session && event.type !== "done") return;
  switch (event.type) {
    case "ready": {
      session.ready = true;
      for (const pcm of session.queue.splice(0)) session.socket.send(pcm);
      if (!session.stopping) liveStatus("listening");
      else sendStop(session);
      break;
    }
    case "speech_start": if (!session.stopping) liveStatus("speech"); break;
    case "speech_end": if (!session.stopping) liveStatus("listening"); break;
    case "partial": showInterim(event); break;
    case "final": addFinal(session, event); break;
    case "translation": addTranslation(session, event); break;
    case "error": {
      const message = `${event.message || "the stream failed"}` + (event.code ? ` (${event.code})` : "");
      if (event.fatal === false) { addNote(message); break; }  // e.g. one final's translation failed
      if (event.code === "UNAUTHENTICATED") $("#settings").open = true;
      failLive(session, message);
      break;
    }
    case "done": finishLive(session, event); break;
    default: break;
  }
}

function showInterim(event) {
  const box = $("#live-interim");
  if (!event || !(event.text || "").trim()) {
    box.hidden = true;
    box.dataset.utterance = "";
    return;
  }
  const text = event.text || "", stable = event.stable_text || "";
  const prefix = stable && text.startsWith(stable) ? stable : "";
  box.dataset.utterance = String(event.utterance);
  box.querySelector(".time").textContent = seconds(event.start_s);
  box.querySelector(".stable").textContent = prefix;
  box.querySelector(".unstable").textContent = text.slice(prefix.length);
  followLive(() => { box.hidden = false; $("#live-empty").hidden = true; });
}

function addFinal(session, event) {
  const interim = $("#live-interim");
  const shown = interim.dataset.utterance;
  if (!shown || Number(shown) <= Number(event.utterance)) showInterim(null);  // this utterance's (or an older) partial
  const text = (event.text || "").trim();
  if (!text) return;
  const line = el("div", {
    class: "live-line", "data-utterance": String(event.utterance),
    "data-start": String(event.start_s), "data-end": String(event.end_s),
  },
  el("span", { class: "time", text: `${seconds(event.start_s)} - ${seconds(event.end_s)}` }),
  el("div", { class: "live-body" }, el("p", { class: "live-text", text }), el("ul", { class: "live-translations" })));
  if (event.language) line.dataset.language = event.language;
  followLive(() => { $("#live-log").append(line); $("#live-empty").hidden = true; });
  const early = session.translations.get(String(event.utterance)) || [];
  session.translations.delete(String(event.utterance));
  for (const translation of early) addTranslation(session, translation);
}

function addTranslation(session, event) {
  const line = document.querySelector(`#live-log .live-line[data-utterance="${CSS.escape(String(event.utterance))}"]`);
  if (!line) {  // before its final: kept until the final comes
    const key = String(event.utterance);
    session.translations.set(key, [...(session.translations.get(key) || []), event]);
    return;
  }
  const list = line.querySelector(".live-translations");
  const item = el("li", { "data-language": event.language || "" },
    el("span", { class: "lang", text: event.language || "?", title: languageName(event.language) }),
    el("span", { class: "live-translation", text: (event.text || "").trim() }));
  const old = list.querySelector(`li[data-language="${CSS.escape(event.language || "")}"]`);
  followLive(() => { if (old) old.replaceWith(item); else list.append(item); });
}

function addNote(text) {
  followLive(() => $("#live-log").append(el("div", { class: "live-line note" }, el("span", { class: "time", text: "" }),
    el("p", { class: "live-text", text }))));
}

function followLive(change) {
  // Keep the newest words in view while the reader is at the bottom of the transcript; leave them alone otherwise.
  const box = $("#live-box");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  change();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

async function stopLive() {
  const session = live;
  if (!session || session.stopping) return;
  session.stopping = true;
  $("#live-stop").disabled = true;
  liveStatus("stopping");
  // The audio already captured goes out first: the worklet posts its last, shorter frame, then the stop.
  if (session.node) {
    await new Promise((resolve) => {
      session.flushed = resolve;
      session.node.port.postMessage("flush");
      setTimeout(resolve, 500);
    });
  }
  stopCapture(session);
  if (session.ready) sendStop(session);
  else if (session.socket && session.socket.readyState <= WebSocket.OPEN) return;  // the stop follows "ready"
  else failLive(session, "Not connected to the gateway");
}

function sendStop(session) {
  const socket = session.socket;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "stop" }));
}

function stopCapture(session) {
  if (session.stream) for (const track of session.stream.getTracks()) track.stop();
  if (session.node) { session.node.port.onmessage = null; session.node.disconnect(); }
  if (session.context && session.context.state !== "closed") session.context.close().catch(() => {});
  session.stream = session.node = session.context = null;
  liveLevel(0);
}

function closeLive(session) {
  stopCapture(session);
  if (session.socket && session.socket.readyState <= WebSocket.OPEN) session.socket.close(1000);
  if (live === session) live = null;
  $("#live-start").disabled = false;
  $("#live-stop").disabled = true;
}

function failLive(session, message) {
  if (session.failed || session.done) return;
  session.failed = true;
  liveError(message);
  liveStatus("error");
  showInterim(null);
  closeLive(session);
}

function finishLive(session, event) {
  session.done = true;
  showInterim(null);
  closeLive(session);
  liveStatus(event.job_id ? "saved" : "stopped");
  const done = $("#live-done");
  const count = event.utterances || 0;
  const parts = [`${seconds(event.duration_s)} recorded, ${count} ${count === 1 ? "utterance" : "utterances"}. `];
  if (event.job_id) {
    const href = "#job=" + encodeURIComponent(event.job_id);
    const link = el("a", { id: "live-job-link", href, text: "Open the saved job" });
    link.addEventListener("click", (e) => {
      if (location.hash === link.hash) { e.preventDefault(); openFromHash(); }  // no hashchange for the same hash
    });
    parts.push(link);
  } else {
    parts.push("Not saved.");
  }
  if (!$("#live-log").children.length) $("#live-empty").textContent = "No speech was heard.";
  done.replaceChildren(...parts);
  done.hidden = false;
  loadRecent();
}

async function openFromHash() {
  const match = location.hash.match(/^#job=([^&]+)$/);
  if (!match) return;
  try {
    await openJob(await api(`/v1/jobs/${match[1]}`));
  } catch (e) {
    $("#progress-card").hidden = false;
    $("#stage").textContent = e.message;
  }
  $("#progress-card").scrollIntoView({ block: "start", behavior: "smooth" });
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
  setupTimeline();
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
  setupTabs();
  setupLive();
  window.addEventListener("hashchange", openFromHash);
  loadRecent();
  openFromHash();
}

start();

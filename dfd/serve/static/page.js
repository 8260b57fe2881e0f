// The page of `dfd serve`: uploads a video to the API, follows it and shows the answer.
"use strict";

const API = "/api/v1";
const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
const FACE_COLOURS = ["#2563eb", "#9333ea", "#0d9488", "#ea580c", "#db2777", "#4b5563"];

const $ = (id) => document.getElementById(id);
let lastResult = null;  // the chart is redrawn at the page's new width

function percent(probability, decimals = 1) {
  return `${(probability * 100).toFixed(decimals)} %`;
}

// Decimals that tell a probability from the threshold (up to 4), so FAKE never reads "51.2 %"
// against a threshold of "51.2 %".
function decimalsApart(probability, threshold) {
  let decimals = 1;
  while (decimals < 4 && percent(probability, decimals) === percent(threshold, decimals)) decimals++;
  return decimals;
}

function seconds(value) {
  return value == null ? "–" : `${Number(value).toFixed(value < 10 ? 2 : 1)} s`;
}

function fileSize(bytes) {
  const mib = 1024 * 1024;
  return bytes < mib ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / mib).toFixed(1)} MB`;
}

// ------------------------------------------------------------------ the model, from /health

async function showModel() {
  const line = $("model");
  try {
    const response = await fetch(`${API}/health`);
    const health = await response.json();
    if (!response.ok) throw new Error(errorOf(health).message);
    const version = health.model_version || {};
    const sha = version.sha256 ? `, sha256 ${version.sha256.slice(0, 12)}` : "";
    line.textContent = `Model ${version.name} (${version.kind}${sha}) on ${health.device}: ` +
      `${health.num_frames} frames per video, threshold ${percent(health.threshold)}`;
  } catch (error) {
    line.textContent = `The server did not say which model it runs (${error.message}).`;
    line.classList.add("warning");
  }
}

// ------------------------------------------------------------------ choosing a file

function chosenFile() {
  return $("file").files[0] || null;
}

function fileChosen() {
  const file = chosenFile();
  $("file-name").textContent = file ? `${file.name} (${fileSize(file.size)})` : "No file chosen";
  $("analyse").disabled = !file;
}

function setUpDrop() {
  const drop = $("drop");
  const input = $("file");
  input.addEventListener("change", fileChosen);
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      fileChosen();
    }
  });
}

// ------------------------------------------------------------------ states

function setBusy(busy) {
  $("analyse").disabled = busy || !chosenFile();
  $("file").disabled = busy;
  $("gradcam").disabled = busy;
  $("upload-form").setAttribute("aria-busy", String(busy));
}

function status(text) {
  $("status").textContent = text;
}

function errorOf(body) {
  // API errors are {"error": code, "detail": text}; a failed job's error is {"code", "message"}
  const error = body && body.error;
  if (error && typeof error === "object") return {code: error.code, message: error.message};
  if (typeof error === "string") return {code: error, message: body.detail || error};
  return {code: "", message: ""};
}

function showError(message, code) {
  $("error-message").textContent = message || "The server gave no reason.";
  $("error-code").textContent = code || "";
  $("error").hidden = false;
  $("result").hidden = true;
  $("progress-box").hidden = true;
  status("");
  setBusy(false);
}

function showApiError(httpStatus, body, retryAfter) {
  const {code, message} = errorOf(body);
  const wait = retryAfter ? ` Try again in ${retryAfter} s.` : "";
  showError(`${message || `The server answered ${httpStatus}.`}${wait}`,
            `HTTP ${httpStatus}${code ? ` · ${code}` : ""}`);
}

// ------------------------------------------------------------------ upload and follow

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return null;
  }
}

function upload(event) {
  event.preventDefault();
  const file = chosenFile();
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  form.append("enable_gradcam", $("gradcam").checked ? "true" : "false");

  $("error").hidden = true;
  $("result").hidden = true;
  $("progress-box").hidden = false;
  $("upload-progress").value = 0;
  status(`Uploading ${file.name}…`);
  setBusy(true);

  const request = new XMLHttpRequest();
  request.open("POST", `${API}/analyze-video`);
  request.upload.addEventListener("progress", (progress) => {
    if (progress.lengthComputable) {
      const done = Math.round((100 * progress.loaded) / progress.total);
      $("upload-progress").value = done;
      status(`Uploading ${file.name}: ${done} %`);
    }
  });
  request.upload.addEventListener("load", () => {
    $("upload-progress").value = 100;
    status("Uploaded. Analysing on the server: finding faces and scoring them…");
  });
  request.addEventListener("load", () => {
    const body = parseJson(request.responseText);
    if (request.status === 200 && body) {
      showResult(body, file.name);
    } else if (request.status === 202 && body && body.status_url) {
      status(`Queued as job ${body.job_id}; waiting for a worker…`);
      follow(body.status_url, file.name);
    } else {
      showApiError(request.status, body, request.getResponseHeader("Retry-After"));
    }
  });
  request.addEventListener("error", () => showError("The server could not be reached.", "network"));
  request.send(form);
}

async function follow(url, fileName) {
  let job;
  try {
    const response = await fetch(url);
    job = await response.json();
    if (!response.ok) return showApiError(response.status, job, null);
  } catch (error) {
    return showError(`Lost track of the job: ${error.message}`, "network");
  }
  if (job.status === "done") return showResult(job.result, fileName);
  if (job.status === "failed") {
    const {code, message} = errorOf(job);
    return showError(message, `job ${job.job_id} failed${code ? ` · ${code}` : ""}`);
  }
  const attempt = job.attempts > 1 ? ` (attempt ${job.attempts})` : "";
  status(job.status === "running"
    ? `A worker is analysing job ${job.job_id}${attempt}…`
    : `Queued as job ${job.job_id}; waiting for a worker…`);
  setTimeout(() => follow(url, fileName), POLL_MS);
}

// ------------------------------------------------------------------ the result

function showResult(result, fileName) {
  const fake = result.prediction === "FAKE";
  const verdict = $("verdict");
  verdict.textContent = result.prediction;
  verdict.className = `verdict ${fake ? "fake" : "real"}`;
  $("result-file").textContent = fileName;
  const decimals = decimalsApart(result.fake_probability, result.threshold);
  $("probability").textContent = percent(result.fake_probability, decimals);
  $("threshold").textContent = percent(result.threshold, decimals);
  $("meter-fill").style.width = `${result.fake_probability * 100}%`;
  $("meter-fill").className = `meter-fill ${fake ? "fake" : "real"}`;
  $("meter-threshold").style.left = `${result.threshold * 100}%`;
  $("faces").textContent = String(result.faces);
  $("frames-used").textContent = String(result.frames_used);
  $("duration").textContent = seconds(result.duration_s);
  $("processing-time").textContent = seconds(result.processing_time_s);
  $("video-id").textContent = result.video_id;
  showNotes(result.notes || []);
  showGradcam(result.gradcam || []);
  $("error").hidden = true;
  $("result").hidden = false;
  lastResult = result;
  drawChart($("chart"), result);  // once visible: it is drawn at the box's width
  status(`Done: ${result.prediction}, fake probability ${$("probability").textContent}.`);
  setBusy(false);
}

function showNotes(notes) {
  const list = $("notes");
  list.replaceChildren(...notes.map((note) => {
    const item = document.createElement("li");
    item.textContent = note;
    return item;
  }));
  list.hidden = notes.length === 0;
}

function showGradcam(overlays) {
  const box = $("gradcam-frames");
  box.replaceChildren(...overlays.map((overlay) => {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = `data:image/png;base64,${overlay.png_base64}`;
    image.alt = `Grad-CAM overlay ${overlay.name}`;
    const caption = document.createElement("figcaption");
    caption.textContent = overlay.name;
    figure.append(image, caption);
    return figure;
  }));
  $("gradcam-box").hidden = overlays.length === 0;
}

// ------------------------------------------------------------------ the per-frame chart

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text != null) element.textContent = text;
  return element;
}

// One series per face: [{x, score, label}], from the frames' own scores, or from the clips'
// scores at their frames when the model scores clips only (3D models).
function chartSeries(frames, clips) {
  const time = new Map(frames.map((f) => [`${f.face}:${f.frame}`, f.time]));
  const hasTime = frames.length > 0 && frames.every((f) => f.time != null);
  const at = (face, frame) => (hasTime ? time.get(`${face}:${frame}`) : frame);
  const series = new Map();
  const add = (face, point) => {
    if (!series.has(face)) series.set(face, []);
    series.get(face).push(point);
  };
  const scored = frames.filter((f) => f.score != null);
  if (scored.length) {
    for (const f of scored) {
      add(f.face, {x: at(f.face, f.frame), score: f.score, label: `frame ${f.frame}`});
    }
  } else {
    for (const clip of clips) {
      for (const frame of clip.frames) {
        add(clip.face, {x: at(clip.face, frame), score: clip.score,
                        label: `frame ${frame} (clip from frame ${clip.frames[0]})`});
      }
    }
  }
  for (const points of series.values()) points.sort((a, b) => a.x - b.x);
  return {series, unit: hasTime ? "time (s)" : "frame", byClip: !scored.length};
}

function drawChart(box, result) {
  const {series, unit, byClip} = chartSeries(result.frames || [], result.clips || []);
  const threshold = result.threshold;
  const width = Math.max(300, Math.round(box.clientWidth || 640));
  const height = width < 480 ? 200 : 260;
  const pad = {left: 44, right: 14, top: 12, bottom: 40};
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const xs = [...series.values()].flat().map((p) => p.x);
  // the whole video on the time axis, so one sees where the sampled frames lie
  const high = Math.max(unit === "frame" ? 0 : result.duration_s || 0, ...xs, 1e-9);
  const x = (value) => pad.left + (value / high) * plotW;
  const y = (score) => pad.top + (1 - score) * plotH;

  const faces = series.size;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart-svg",
    "aria-label": `Fake probability of ${xs.length} sampled frames` +
      `${faces > 1 ? ` of ${faces} faces` : ""} against ${unit}; threshold ${percent(threshold)}` +
      `${byClip ? "; each frame shows the score of its clip" : ""}`,
  });
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick),
                              class: "grid"}));
    chart.append(svg("text", {x: pad.left - 8, y: y(tick) + 4, class: "tick", "text-anchor": "end"},
                     `${tick * 100}%`));
  }
  for (const tick of [0, high / 2, high]) {
    chart.append(svg("text", {x: x(tick), y: height - pad.bottom + 18, class: "tick",
                              "text-anchor": tick === 0 ? "start" : tick === high ? "end" : "middle"},
                     unit === "frame" ? String(Math.round(tick)) : tick.toFixed(2)));
  }
  chart.append(svg("text", {x: pad.left + plotW / 2, y: height - 4, class: "axis-label",
                            "text-anchor": "middle"}, unit));
  chart.append(svg("line", {x1: pad.left, x2: width - pad.right, y1: y(threshold), y2: y(threshold),
                            class: "threshold"}));

  let index = 0;
  for (const [face, points] of series) {
    const colour = FACE_COLOURS[index++ % FACE_COLOURS.length];
    const group = svg("g", {class: "series", "data-face": face});
    group.append(svg("polyline", {points: points.map((p) => `${x(p.x)},${y(p.score)}`).join(" "),
                                  fill: "none", stroke: colour, "stroke-width": 2.5}));
    for (const p of points) {
      const dot = svg("circle", {cx: x(p.x), cy: y(p.score), r: 4.5, fill: colour, class: "point"});
      dot.append(svg("title", {}, `face ${face}, ${p.label}: ${percent(p.score)}`));
      group.append(dot);
    }
    chart.append(group);
  }
  box.replaceChildren(chart, chartLegend([...series.keys()], threshold, byClip, xs.length));
}

function chartLegend(faces, threshold, byClip, points) {
  const legend = document.createElement("p");
  legend.className = "legend small";
  if (!points) {
    legend.textContent = "The answer has no per-frame scores.";
    return legend;
  }
  const item = (className, text, colour) => {
    const span = document.createElement("span");
    span.className = className;
    if (colour) span.style.setProperty("--colour", colour);
    span.textContent = text;
    return span;
  };
  legend.append(...faces.map((face, i) =>
    item("legend-face", `face ${face}`, FACE_COLOURS[i % FACE_COLOURS.length])));
  legend.append(item("legend-threshold", `threshold ${percent(threshold)}`));
  if (byClip) legend.append(item("", "each frame shows the score of its clip"));
  return legend;
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  setUpDrop();
  fileChosen();
  $("upload-form").addEventListener("submit", upload);
  showModel();
  let resizing;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => lastResult && drawChart($("chart"), lastResult), 100);
  });
});

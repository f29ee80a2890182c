// A model's page: live training chart (server-sent events), stop/resume, evaluation, export.
"use strict";
const BASE = "/api/models/" + encodeURIComponent(MODEL);
let source = null;

function draw(data) {
  const it = data.iterations;
  const pts = key => it.iteration.map((x, i) => [x, it[key][i]]);
  const chart = document.getElementById("chart");
  chart.replaceChildren(
    lineChart([{label: "mean reward", colour: "#2563eb", points: pts("reward")}], {height: 220, yLabel: "reward"}),
    lineChart([{label: "mean progress %", colour: "#ea580c", points: pts("progress")},
               {label: "laps completed %", colour: "#16a34a", points: pts("laps")},
               {label: "evaluation completion %", colour: "#7c3aed", dots: true,
                points: data.evaluations.map(e => [e.iteration, e.completion])}], {height: 260, yLabel: "%"}));
  const status = document.getElementById("status");
  status.textContent = data.status;
  status.className = "status " + data.status;
  const s = data.state;
  document.getElementById("summary").textContent = s.iteration !== undefined ?
    `last checkpoint: iteration ${s.iteration}, ${s.num_timesteps} steps, ${s.episodes} episodes, ${(s.elapsed_seconds / 60).toFixed(1)} min trained` : "no checkpoint yet";
  showCamera(data.camera);
  const running = data.job && data.job.state === "running";
  document.getElementById("stop").hidden = !running;
  document.getElementById("resume-box").hidden = running || !["stopped", "interrupted", "done", "failed"].includes(data.status);
  if (data.job) showOutput(data.job.id);
}

// The training's live camera: a new frame whenever the metrics say it changed.
let cameraTime = null;
function showCamera(time) {
  if (time === null || time === undefined || time === cameraTime) return;
  cameraTime = time;
  document.getElementById("camera-box").hidden = false;
  document.getElementById("camera").src = `${BASE}/camera.png?t=${time}`;
  document.getElementById("camera-time").textContent = "frame of " + new Date(time * 1000).toLocaleTimeString();
}

async function showOutput(id) {
  const job = await api("GET", "/api/jobs/" + id);
  if (job) document.getElementById("output").textContent = job.output;
}

function follow() {
  if (source) source.close();
  source = new EventSource(BASE + "/events");
  source.onmessage = e => draw(JSON.parse(e.data));
  source.onerror = () => { source.close(); source = null; };  // the stream ends with the job
}

async function loadEvaluations() {
  const runs = await api("GET", BASE + "/evaluations");
  if (!runs) return;
  const box = document.getElementById("evaluations");
  box.replaceChildren();
  for (const run of runs) {
    const s = run.summary, set = run.settings;
    box.append(el("h2", {}, `${run.race ? "race " + run.race : "evaluation"} ${run.id}: ${set.track}, ${set.lighting} light — ${s.laps}/${s.trials} laps, best ${fmt(s.best_lap)} s`));
    const table = el("table", {}, el("tr", {}, ...["trial", "status", "lap time s", "off track", "penalty s", "completion %"].map(c => el("th", {}, c))));
    for (const t of run.trials) table.append(el("tr", {}, el("td", {}, t.trial), el("td", {}, t.status), el("td", {}, fmt(t.lap_time)),
      el("td", {}, t.off_track), el("td", {}, fmt(t.penalty, 1)), el("td", {}, fmt(t.progress, 1))));
    box.append(el("div", {class: "scroll"}, table));
    if (run.video) box.append(el("video", {controls: "", preload: "metadata", class: "evaluation", src: `${BASE}/evaluations/${run.id}/video.mp4#t=0.5`}));  // #t: show a frame before play
    const details = el("details", {}, el("summary", {}, "map of the driven line"));
    details.addEventListener("toggle", () => {
      if (details.open && !details.querySelector("img")) details.append(el("img", {class: "map", src: `${BASE}/evaluations/${run.id}/map.png`, alt: "evaluation map"}));
    });
    box.append(details);
  }
}

// Follow a background job, saying how it goes in the element `label`; then call `done`.
async function watchJob(job, label, busy, done) {
  const state = document.getElementById(label);
  while (true) {
    const now = await api("GET", "/api/jobs/" + job.id);
    if (!now) return;
    state.textContent = now.state === "running" ? busy : now.state;
    if (now.state !== "running") {
      if (now.state !== "done") state.textContent += ": " + now.output.trim().split("\n").slice(-3).join(" ");
      break;
    }
    await new Promise(r => setTimeout(r, 1500));
  }
  done();
}

async function loadRobustness() {
  const report = await api("GET", BASE + "/robustness");
  if (!report) return;
  const box = document.getElementById("robust-report");
  const table = el("table", {}, el("tr", {}, ...["lighting", "laps", "completion %", "best lap s", "mean lap s", "off track", "penalty s"].map(c => el("th", {}, c))));
  for (const p of report.presets) table.append(el("tr", {}, el("td", {}, p.preset), el("td", {}, `${p.laps}/${p.trials}`), el("td", {}, fmt(p.completion, 1)),
    el("td", {}, fmt(p.best_lap)), el("td", {}, fmt(p.mean_lap)), el("td", {}, p.off_track), el("td", {}, fmt(p.penalty, 1))));
  box.replaceChildren(el("p", {class: "help"}, `on ${report.settings.track}, ${report.settings.trials} trials per preset, seed ${report.settings.seed}`),
    el("div", {class: "scroll"}, table),
    el("img", {class: "map", id: "robust-picture", src: `${BASE}/robustness.png?t=${Date.now()}`, alt: "what the camera saw under each lighting preset"}));
}

async function showCarBundle() {
  const car = await api("GET", BASE + "/export/car");
  if (!car) return;
  const link = document.getElementById("car-download");
  link.hidden = !car.ready;
  if (car.ready) {
    link.href = BASE + "/export/car/download";
    link.setAttribute("download", car.file);
    link.textContent = `download ${car.file} (${(car.size / 1024).toFixed(0)} KiB)`;
  }
}

// "Create and train" opens this page at once, before the job's `racerl train` has made
// the model's folder: wait for it while that job runs.
async function waitForFolder() {
  const status = document.getElementById("status");
  while (true) {
    const models = await api("GET", "/api/models");
    if (!models) return false;
    if (models.some(m => m.name === MODEL)) return true;
    const jobs = await api("GET", "/api/jobs");
    if (!jobs) return false;
    if (!jobs.some(j => j.model === MODEL && j.state === "running")) {
      showError(`no model ${MODEL}`);
      return false;
    }
    status.textContent = "starting";
    status.className = "status training";
    document.getElementById("summary").textContent = "the training job is starting…";
    await new Promise(r => setTimeout(r, 1000));
  }
}

async function init() {
  if (!await waitForFolder()) return;
  const model = await api("GET", BASE);
  if (!model) return;
  await fillTracks(document.getElementById("eval-track"), Array.isArray(model.track) ? model.track[0] : model.track);
  const metrics = await api("GET", BASE + "/metrics");
  if (metrics) draw(metrics);
  follow();
  loadEvaluations();
  document.getElementById("stop").onclick = async () => { if (await api("POST", BASE + "/stop")) setTimeout(follow, 500); };
  document.getElementById("resume").onclick = async () => {
    if (await api("POST", BASE + "/resume", {minutes: Number(document.getElementById("resume-budget").value)})) setTimeout(follow, 500);
  };
  document.getElementById("evaluate").onclick = async () => {
    const job = await api("POST", BASE + "/evaluations", {track: document.getElementById("eval-track").value,
      trials: Number(document.getElementById("eval-trials").value), lighting: document.getElementById("eval-lighting").value,
      video: document.getElementById("eval-video").checked});
    if (job) watchJob(job, "eval-state", "driving…", loadEvaluations);
  };
  document.getElementById("robustness").onclick = async () => {
    const job = await api("POST", BASE + "/robustness", {track: document.getElementById("eval-track").value,
      trials: Number(document.getElementById("robust-trials").value)});
    if (job) watchJob(job, "robust-state", "driving under every lighting preset…", loadRobustness);
  };
  document.getElementById("car-export").onclick = async () => {
    const job = await api("POST", BASE + "/export/car");
    if (job) watchJob(job, "car-state", "building and checking the car bundle…", showCarBundle);
  };
  if (model.robustness) loadRobustness();
  showCarBundle();
  document.getElementById("export").onclick = async () => {
    const state = document.getElementById("export-state");
    state.textContent = "exporting…";
    const blob = await api("POST", BASE + "/export?openvino=" + document.getElementById("openvino").checked);
    state.textContent = "";
    if (!blob) return;
    const a = el("a", {href: URL.createObjectURL(blob), download: MODEL + ".tar.gz"});
    document.body.append(a); a.click(); a.remove();
    state.textContent = "downloaded " + MODEL + ".tar.gz";
  };
  setInterval(async () => { if (!source) { const m = await api("GET", BASE + "/metrics"); if (m) { draw(m); if (m.job && m.job.state === "running") follow(); } } }, 5000);
}
init();

// The create page: track, action space, hyperparameters, reward (validated in the sandbox).
"use strict";
let SETTINGS = null;

function setActions(meta) {
  const continuous = meta.action_space_type === "continuous";
  document.querySelector(`input[name=atype][value=${continuous ? "continuous" : "discrete"}]`).checked = true;
  showActionType();
  const body = document.querySelector("#actions tbody");
  body.replaceChildren();
  if (continuous) {
    const s = meta.action_space;
    document.getElementById("steer-low").value = s.steering_angle.low;
    document.getElementById("steer-high").value = s.steering_angle.high;
    document.getElementById("speed-low").value = s.speed.low;
    document.getElementById("speed-high").value = s.speed.high;
  } else {
    for (const a of meta.action_space) addAction(a.steering_angle, a.speed);
  }
}

function addAction(steer = 0, speed = 1) {
  const body = document.querySelector("#actions tbody");
  const row = el("tr", {}, el("td", {}, body.children.length),
    el("td", {}, el("input", {type: "number", step: "any", value: steer, class: "steer"})),
    el("td", {}, el("input", {type: "number", step: "any", value: speed, class: "speed"})),
    el("td", {}, button("remove", () => { row.remove(); renumber(); })));
  body.append(row);
}

function renumber() {
  [...document.querySelectorAll("#actions tbody tr")].forEach((r, i) => { r.firstChild.textContent = i; });
}

function showActionType() {
  const continuous = document.querySelector("input[name=atype]:checked").value === "continuous";
  document.getElementById("discrete").hidden = continuous;
  document.getElementById("continuous").hidden = !continuous;
}

function actionSpace() {
  if (document.querySelector("input[name=atype]:checked").value === "continuous") {
    const n = id => Number(document.getElementById(id).value);
    return {action_space_type: "continuous", action_space: {
      steering_angle: {low: n("steer-low"), high: n("steer-high")},
      speed: {low: n("speed-low"), high: n("speed-high")}}};
  }
  return {action_space_type: "discrete", action_space: [...document.querySelectorAll("#actions tbody tr")].map((r, i) => ({
    steering_angle: Number(r.querySelector(".steer").value), speed: Number(r.querySelector(".speed").value), index: i}))};
}

function setHyperparameters(values) {
  for (const f of SETTINGS.fields) {
    if (f.name in values) document.getElementById("hp-" + f.name).value = JSON.stringify(values[f.name]).replace(/^"|"$/g, "");
  }
}

function hyperparameters() {
  const out = {};
  for (const f of SETTINGS.fields) {
    const text = document.getElementById("hp-" + f.name).value.trim();
    let value = text;
    if (typeof f.default !== "string") {
      try { value = JSON.parse(text); } catch (e) { value = text; }
    }
    if (JSON.stringify(value) !== JSON.stringify(f.default)) out[f.name] = value;
  }
  return out;
}

function showTrack() {
  const name = document.getElementById("track").value;
  document.getElementById("track-preview").src = "/api/tracks/" + encodeURIComponent(name) + "/preview.png";
  const t = (window.TRACKS || []).find(t => t.name === name);
  document.getElementById("track-about").textContent = t ? `${t.length} m long, ${t.width} m wide, ${t.direction}, ${t.source}` : "";
}

async function validate() {
  const box = document.getElementById("validation");
  box.replaceChildren();
  document.getElementById("validating").hidden = false;
  const result = await api("POST", "/api/rewards/validate", {code: document.getElementById("reward").value, track: document.getElementById("track").value});
  document.getElementById("validating").hidden = true;
  if (!result) return;
  box.append(el("p", {class: "help"}, `sandbox: ${result.sandbox}`));
  for (const f of result.findings) box.append(el("p", {class: f.level === "error" ? "error" : "warning"}, `${f.level}: ${f.message}`));
  if (result.microseconds_per_call !== null) box.append(el("p", {}, `${result.calls} calls, ${result.microseconds_per_call} µs per call in the sandbox`));
  box.append(el("p", {class: result.ok ? "ok" : "error"}, result.ok ? (result.findings.length ? "ok (with warnings)" : "ok") : "the reward function has errors"));
  if (!result.lab) return;
  box.append(el("h2", {}, "Reward lab: what each behaviour earns (best first)"));
  const table = el("table", {}, el("tr", {}, ...result.lab.columns.map(c => el("th", {}, c))));
  for (const row of result.lab.rows) table.append(el("tr", {}, ...row.map(c => el("td", {}, c))));
  box.append(table);
  for (const w of result.lab.warnings) box.append(el("p", {class: "warning"}, "warning: " + w));
  if (!result.lab.warnings.length) box.append(el("p", {class: "ok"}, "no unwanted behaviour earns more than driving well"));
  box.append(el("img", {src: result.lab.picture, class: "map", alt: "reward along the track"}));
}

// The first track, then every other ticked one: a list only when there is more than one.
function chosenTracks() {
  const first = document.getElementById("track").value;
  const more = [...document.querySelectorAll("#more-tracks input:checked")].map(c => c.value).filter(t => t !== first);
  return more.length ? [first, ...more] : first;
}

function fillMoreTracks(tracks) {
  const box = document.getElementById("more-tracks");
  for (const t of tracks) box.append(el("label", {class: "pick"}, el("input", {type: "checkbox", value: t.name, id: "more-" + t.name}), " " + t.name));
}

async function start() {
  const budget = Number(document.getElementById("budget").value);
  const body = {name: document.getElementById("name").value.trim(), track: chosenTracks(),
    reward_code: document.getElementById("reward").value, action_space: actionSpace(),
    hyperparameters: hyperparameters(), [document.getElementById("budget-unit").value]: budget};
  const clone = document.getElementById("clone").value;
  if (clone) body.clone = clone;
  const job = await api("POST", "/api/models", body);
  if (job) location.href = "/models/" + encodeURIComponent(job.model);
}

async function init() {
  SETTINGS = await api("GET", "/api/settings");
  if (!SETTINGS) return;
  const hp = document.querySelector("#hp tbody");
  for (const f of SETTINGS.fields) {
    hp.append(el("tr", {}, el("td", {}, el("label", {for: "hp-" + f.name}, f.name)),
      el("td", {}, el("input", {id: "hp-" + f.name, size: 14})), el("td", {class: "help"}, f.help)));
  }
  const defaults = Object.fromEntries(SETTINGS.fields.map(f => [f.name, f.default]));
  setHyperparameters(defaults);
  document.getElementById("reset-hp").onclick = () => setHyperparameters(defaults);
  for (const [name, values] of Object.entries(SETTINGS.presets)) {
    document.getElementById("presets").append(button(name, () => {
      setHyperparameters(values);
      if (values.action_space && SETTINGS.action_spaces[values.action_space]) setActions(SETTINGS.action_spaces[values.action_space]);
      if (values.reward && SETTINGS.rewards[values.reward]) document.getElementById("reward").value = SETTINGS.rewards[values.reward];
    }), " ");
  }
  const example = document.getElementById("example");
  for (const name of Object.keys(SETTINGS.rewards)) example.append(el("option", {value: name}, name));
  example.onchange = () => { document.getElementById("reward").value = SETTINGS.rewards[example.value]; };
  document.getElementById("reward").value = SETTINGS.rewards[example.value];
  setActions(SETTINGS.action_spaces.default);
  document.getElementById("as-default").onclick = () => setActions(SETTINGS.action_spaces.default);
  document.getElementById("as-racing").onclick = () => setActions(SETTINGS.action_spaces.racing);
  document.querySelectorAll("input[name=atype]").forEach(r => { r.onchange = showActionType; });
  document.getElementById("add-action").onclick = () => addAction();
  window.TRACKS = await fillTracks(document.getElementById("track"), "loop");
  fillMoreTracks(window.TRACKS);
  document.getElementById("track").onchange = showTrack;
  showTrack();
  document.getElementById("validate").onclick = validate;
  document.getElementById("start").onclick = start;
  const clone = document.getElementById("clone").value;
  if (clone) {
    const source = await api("GET", "/api/models/" + encodeURIComponent(clone));
    if (!source) return;
    document.getElementById("heading").textContent = `Clone ${clone}: a new model from its trained weights`;
    setHyperparameters(source.config);
    if (source.action_space) setActions(source.action_space);
    document.getElementById("reward").value = source.reward_code;
    const tracks = Array.isArray(source.track) ? source.track : [source.track];
    document.getElementById("track").value = tracks[0];
    for (const t of tracks.slice(1)) {
      const box = document.getElementById("more-" + t);
      if (box) { box.checked = true; document.getElementById("more-tracks-box").open = true; }
    }
    showTrack();
    document.getElementById("name").value = clone + "-clone";
  }
}
init();

// Races: create a race, submit a model or a scripted driver (two at once, a match, in a
// head-to-model race), the leaderboard.
"use strict";
let RACE = null;
const H2M = "head-to-model";
const COLUMNS = ["#", "entrant", "total s", "best lap s", "laps", "off track", "penalty s", "lap times s"];

async function loadRaces() {
  const races = await api("GET", "/api/races");
  if (!races) return;
  const body = document.querySelector("#races tbody");
  body.replaceChildren();
  for (const r of races) body.append(el("tr", {}, el("td", {}, r.name), el("td", {}, r.description),
    el("td", {}, button("open", () => openRace(r.name)))));
}

async function openRace(name) {
  const race = await api("GET", "/api/races/" + encodeURIComponent(name));
  if (!race) return;
  RACE = name;
  const match = race.type === H2M;  // raced in matches: wins count, a try is a match
  document.getElementById("race-box").hidden = false;
  document.getElementById("versus").hidden = !match;
  document.getElementById("race-title").textContent = "Leaderboard: " + race.name;
  document.getElementById("race-about").textContent = race.description;
  const last = document.getElementById("last-match");
  last.hidden = !race.last_match;
  last.textContent = race.last_match ? `Last match: ${race.last_match.winner} beat ${race.last_match.loser}` : "";
  const head = document.querySelector("#board thead tr");
  head.replaceChildren(...COLUMNS.concat(match ? ["wins", "matches"] : ["tries"]).map(c => el("th", {}, c)));
  const body = document.querySelector("#board tbody");
  body.replaceChildren();
  for (const s of race.leaderboard) body.append(el("tr", {}, el("td", {}, s.rank), el("td", {}, s.entrant), el("td", {}, fmt(s.total_time)),
    el("td", {}, fmt(s.best_lap)), el("td", {}, `${s.laps_completed}/${race.laps}`), el("td", {}, s.off_track), el("td", {}, fmt(s.penalty, 1)),
    el("td", {}, s.lap_times.map(t => t.toFixed(2)).join(" / ")), ...(match ? [el("td", {}, s.wins)] : []), el("td", {}, s.submissions)));
}

async function init() {
  await fillTracks(document.getElementById("race-track"), "loop");
  const entrant = document.getElementById("entrant"), opponent = document.getElementById("opponent");
  const models = await api("GET", "/api/models") || [];
  for (const picker of [entrant, opponent]) {
    picker.append(el("option", {value: "driver:centerline"}, "scripted: centre line at 1 m/s"),
      el("option", {value: "driver:centerline:1.5"}, "scripted: centre line at 1.5 m/s"), el("option", {value: "driver:raceline"}, "scripted: race line"));
    for (const m of models) picker.append(el("option", {value: "model:" + m.name}, "model " + m.name));
  }
  opponent.selectedIndex = 1;  // a match needs two different entrants
  // a picker's value as a Submit body: {model} or {driver, speed}, under a prefix for the opponent
  const chosen = (picker, prefix = "") => {
    const [kind, name, speed] = picker.value.split(":");
    return kind === "model" ? {[prefix + "model"]: name} : {[prefix + "driver"]: name, [prefix + "speed"]: Number(speed || 1)};
  };
  const type = document.getElementById("race-type");
  const showObjects = () => {  // the object settings of the chosen race type only
    document.getElementById("race-objects").hidden = type.value === "time-trial";
    for (const part of document.querySelectorAll("#race-objects [data-type]")) part.hidden = part.dataset.type !== type.value;
  };
  type.onchange = showObjects;
  showObjects();
  const value = id => document.getElementById(id).value;
  const checked = id => document.getElementById(id).checked;
  document.getElementById("create-race").onclick = async () => {
    const body = {name: value("race-name").trim(), race_type: type.value, track: value("race-track"),
      laps: Number(value("race-laps")), lighting: value("race-lighting"), off_track_penalty: Number(value("race-penalty"))};
    if (type.value !== "time-trial") body.collision_penalty = Number(value("race-collision"));
    if (type.value === "object-avoidance") Object.assign(body, {number_of_obstacles: Number(value("race-obstacles")), randomize_obstacle_locations: checked("race-randomize")});
    if (type.value === H2M) body.done_condition = value("race-done");
    if (type.value === "head-to-bot") Object.assign(body, {number_of_bot_cars: Number(value("race-bots")), bot_car_speed: Number(value("race-bot-speed")), is_lane_change: checked("race-lane-change")});
    const race = await api("POST", "/api/races", body);
    if (race) { await loadRaces(); openRace(race.name); }
  };
  document.getElementById("submit").onclick = async () => {
    const state = document.getElementById("submit-state");
    state.textContent = "racing…";
    const match = !document.getElementById("versus").hidden;
    const body = match ? {...chosen(entrant), ...chosen(opponent, "opponent_")} : chosen(entrant);
    const result = await api("POST", `/api/races/${encodeURIComponent(RACE)}/submissions`, body);
    if (!result) state.textContent = "";
    else if (match) state.textContent = result.result + ": " + result.standings.map(s => `${s.entrant} is #${s.rank}`).join(", ");
    else state.textContent = `${result.standing.entrant} is #${result.standing.rank}` + (result.note ? ` (${result.note})` : "");
    openRace(RACE);
  };
  loadRaces();
}
init();

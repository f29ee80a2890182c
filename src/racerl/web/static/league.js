// The league's standings page: follows /api/leagues/NAME/events (server-sent events) and
// redraws the current race and the season table whenever the standings change.
"use strict";

const league = document.body.dataset.league;
let previous = {};  // racer -> points at the last redraw, to light up who just scored

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function secs(v) { return v === null || v === undefined ? "–" : v.toFixed(2); }

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  cells.forEach(c => tr.appendChild(c));
  return tr;
}

function draw(data) {
  const current = data.races.find(r => r.name === data.current);
  document.getElementById("current-name").textContent = current ? current.name : "no races yet";
  document.getElementById("current-about").textContent = current ? current.description : "";
  const board = document.querySelector("#current-board tbody");
  board.replaceChildren(...(current ? current.leaderboard : []).map(s => row([
    cell(s.rank, "rank"), cell(s.entrant, "name"),
    cell(s.total_time === null ? `${s.laps_completed}/${current.laps} laps` : secs(s.total_time)),
    cell(secs(s.best_lap), "wide"),
    cell(s.points, "pts")], `p${s.rank}`)));
  document.getElementById("current-empty").hidden = !!(current && current.leaderboard.length);

  const overall = document.querySelector("#overall tbody");
  const now = {};
  overall.replaceChildren(...data.overall.map(o => {
    now[o.racer] = o.points;
    const fresh = o.racer in previous ? previous[o.racer] !== o.points : Object.keys(previous).length > 0;
    return row([cell(o.rank, "rank"), cell(o.racer, "name"), cell(o.points, "pts"),
                cell(o.wins, "wide")], `p${o.rank}${fresh ? " fresh" : ""}`);
  }));
  previous = now;
  document.getElementById("overall-empty").hidden = data.overall.length > 0;

  document.getElementById("races").replaceChildren(...data.races.map(r => {
    const li = document.createElement("li");
    li.textContent = `${r.name}: ${r.leaderboard.length} ${r.leaderboard.length === 1 ? "racer" : "racers"}`;
    if (r.name === data.current) li.className = "current";
    return li;
  }));
  document.getElementById("recent-title").hidden = data.recent.length === 0;
  document.getElementById("recent").replaceChildren(...data.recent.slice(0, 5).map(s => {
    const li = document.createElement("li");
    li.className = s.state;
    const what = s.state === "done" ? `number ${s.rank}` : s.state === "failed" ? `refused: ${s.error}` : s.state;
    li.textContent = `${s.racer} → ${s.race}: ${what}`;
    return li;
  }));
}

function follow() {
  const live = document.getElementById("live");
  const error = document.getElementById("error");
  const source = new EventSource(`/api/leagues/${encodeURIComponent(league)}/events`);
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; error.hidden = true; };
  source.onmessage = event => { draw(JSON.parse(event.data)); };
  source.onerror = () => {
    live.textContent = "reconnecting…"; live.className = "live";
  };
}

follow();

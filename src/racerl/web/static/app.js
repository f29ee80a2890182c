// racerl console: what every page shares. Plain script, no build, no network but the API.
"use strict";

// Call the API; on an error show its {"error": ...} message and return null.
async function api(method, url, body) {
  const options = {method, headers: {}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    showError("the console does not answer (is racerl serve still running?)");
    return null;
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.blob();
  if (!response.ok) {
    showError(data && data.error ? data.error : `${response.status} ${response.statusText}`);
    return null;
  }
  hideError();
  return data;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
  box.scrollIntoView({block: "nearest"});
}

function hideError() {
  document.getElementById("error").hidden = true;
}

// el("a", {href: "/"}, "text", child...): a DOM element; text is never parsed as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function button(label, onclick) {
  const b = el("button", {type: "button"}, label);
  b.addEventListener("click", onclick);
  return b;
}

function fmt(value, digits = 2) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

async function fillTracks(select, chosen) {
  const tracks = await api("GET", "/api/tracks");
  if (!tracks) return [];
  for (const t of tracks) select.append(el("option", {value: t.name}, `${t.name} (${t.length} m)`));
  if (chosen) select.value = chosen;
  return tracks;
}

// A line chart as inline SVG: series = [{label, colour, points: [[x, y], ...], dots}].
function lineChart(series, {width = 820, height = 300, yLabel = ""} = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  const pad = {l: 48, r: 12, t: 30, b: 36};  // the legend and the y label sit above the plot
  const all = series.flatMap(s => s.points);
  if (all.length === 0) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", width / 2); t.setAttribute("y", height / 2);
    t.setAttribute("text-anchor", "middle");
    t.textContent = "no iteration finished yet";
    svg.append(t);
    return svg;
  }
  const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1);
  const X = x => pad.l + (x - x0) / (x1 - x0) * (width - pad.l - pad.r);
  const Y = y => height - pad.b - (y - y0) / (y1 - y0) * (height - pad.t - pad.b);
  const line = (a, b, c, d, cls) => {
    const l = document.createElementNS(ns, "line");
    l.setAttribute("x1", a); l.setAttribute("y1", b); l.setAttribute("x2", c); l.setAttribute("y2", d);
    l.setAttribute("class", cls); svg.append(l);
  };
  const text = (x, y, s, anchor) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", anchor);
    t.textContent = s; svg.append(t);
  };
  line(pad.l, Y(y0), width - pad.r, Y(y0), "axis");
  line(pad.l, pad.t, pad.l, height - pad.b, "axis");
  for (let k = 0; k <= 4; k++) {
    const y = y0 + (y1 - y0) * k / 4;
    line(pad.l, Y(y), width - pad.r, Y(y), "grid");
    text(pad.l - 4, Y(y) + 4, y.toFixed(Math.abs(y1 - y0) < 10 ? 1 : 0), "end");
  }
  text(width / 2, height - 6, "iteration", "middle");
  text(4, 16, yLabel, "start");
  for (let k = 0; k <= 4; k++) {
    const x = x0 + (x1 - x0) * k / 4;
    text(X(x), height - pad.b + 16, x.toFixed(0), "middle");
  }
  series.forEach((s, i) => {
    if (s.dots) {
      for (const [x, y] of s.points) {
        const c = document.createElementNS(ns, "circle");
        c.setAttribute("cx", X(x)); c.setAttribute("cy", Y(y)); c.setAttribute("r", 4);
        c.setAttribute("fill", s.colour); svg.append(c);
      }
    } else if (s.points.length) {
      const p = document.createElementNS(ns, "polyline");
      p.setAttribute("points", s.points.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "));
      p.setAttribute("stroke", s.colour); p.setAttribute("fill", "none"); p.setAttribute("stroke-width", 2);
      svg.append(p);
    }
    const lx = pad.l + 10 + i * 190;
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", lx); r.setAttribute("y", 6); r.setAttribute("width", 12); r.setAttribute("height", 12);
    r.setAttribute("fill", s.colour); svg.append(r);
    text(lx + 16, 17, s.label, "start");
  });
  return svg;
}

// The live view's page: one self-contained HTML document (no files, no libraries, nothing
// fetched from elsewhere) that polls /status and /images twice a second and draws the frames,
// the prediction, the truth, the motion field and the error curve. Its body's data-* attributes
// count what it drew, for tests in a headless browser.

enum LiveViewPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Foresight live view</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 16px; background: #111; color: #ddd; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  #title { color: #9ab; margin-bottom: 12px; }
  .panels { display: flex; gap: 12px; flex-wrap: wrap; }
  figure { margin: 0; }
  figcaption { text-align: center; color: #9ab; margin-top: 4px; }
  canvas.frame { width: 192px; height: 192px; image-rendering: pixelated; background: #222; border: 1px solid #333; }
  #plot { width: 100%; max-width: 820px; height: 220px; background: #181818; border: 1px solid #333; margin-top: 16px; }
  table { border-collapse: collapse; margin-top: 12px; }
  td { padding: 2px 14px 2px 0; }
  td:first-child { color: #9ab; }
  #state.bad { color: #e88; }
  progress { width: 300px; }
</style>
</head>
<body data-updates="0" data-image-versions="0" data-points="0">
<h1>Foresight live view</h1>
<div id="title">connecting…</div>
<div class="panels" id="panels"></div>
<canvas id="plot" width="820" height="220"></canvas>
<table>
  <tr><td>state</td><td id="state">connecting</td></tr>
  <tr><td>time</td><td id="seconds">–</td></tr>
  <tr><td>steps</td><td id="steps">–</td></tr>
  <tr><td>steps/s</td><td id="rate">–</td></tr>
  <tr id="framesRow"><td>frames (dropped)</td><td id="frames">–</td></tr>
  <tr id="errorRow"><td>model / copy-last MSE</td><td id="errors">–</td></tr>
  <tr><td>loss</td><td id="loss">–</td></tr>
  <tr><td>memory</td><td id="memory">–</td></tr>
  <tr id="progressRow" hidden><td>progress</td><td><progress id="progress" max="1" value="0"></progress></td></tr>
</table>
<script>
"use strict";
const names = ["last frame", "prediction", "truth", "motion"];
let canvases = [], lastVersion = -1, kind = "live";
const body = document.body;
const text = (id, value) => { document.getElementById(id).textContent = value; };

function ensurePanels(side, count) {
  if (canvases.length === count && canvases[0].width === side) return;
  const holder = document.getElementById("panels");
  holder.textContent = "";
  canvases = [];
  for (let i = 0; i < count; i++) {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.className = "frame"; canvas.width = side; canvas.height = side;
    const caption = document.createElement("figcaption");
    caption.textContent = names[i];
    figure.append(canvas, caption);
    holder.append(figure);
    canvases.push(canvas);
  }
}

async function pollImages() {
  const response = await fetch("images", { cache: "no-store" });
  if (!response.ok) return;
  const bytes = new Uint8Array(await response.arrayBuffer());
  const side = bytes[0] | (bytes[1] << 8), count = bytes[2];
  const version = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16)) + bytes[7] * 16777216;
  if (version === 0 || version === lastVersion) return;
  lastVersion = version;
  ensurePanels(side, count);
  const plane = side * side * 4;
  for (let i = 0; i < count; i++) {
    const image = new ImageData(new Uint8ClampedArray(bytes.buffer, 8 + i * plane, plane), side, side);
    canvases[i].getContext("2d").putImageData(image, 0, 0);
  }
  body.dataset.imageVersions = String(Number(body.dataset.imageVersions) + 1);
}

function drawPlot(points) {
  const canvas = document.getElementById("plot"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 36;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#9ab"; g.font = "12px sans-serif";
  if (points.length < 1) { g.fillText("waiting for the first second…", pad, h / 2); return 0; }
  const series = kind === "live"
    ? [{ index: 1, colour: "#6cf", label: "model MSE" }, { index: 2, colour: "#f96", label: "copy-last MSE" }]
    : [{ index: 3, colour: "#6cf", label: "loss" }];
  let top = 0;
  for (const p of points) for (const s of series) top = Math.max(top, p[s.index]);
  top = top > 0 ? top * 1.1 : 1;
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const x = t => pad + (t - t0) / (t1 - t0) * (w - pad - 10), y = v => h - pad / 2 - v / top * (h - pad);
  g.strokeStyle = "#333"; g.beginPath(); g.moveTo(pad, 8); g.lineTo(pad, h - pad / 2); g.lineTo(w - 10, h - pad / 2); g.stroke();
  g.fillText(top.toPrecision(2), 2, 14); g.fillText("0", 2, h - pad / 2);
  g.fillText(t0.toFixed(0) + " s", pad, h - 4); g.fillText(t1.toFixed(0) + " s", w - 50, h - 4);
  series.forEach((s, n) => {
    g.strokeStyle = s.colour; g.beginPath();
    points.forEach((p, i) => { if (i === 0) g.moveTo(x(p[0]), y(p[s.index])); else g.lineTo(x(p[0]), y(p[s.index])); });
    g.stroke();
    g.fillStyle = s.colour; g.fillText(s.label, w - 140, 16 + 14 * n);
  });
  return points.length;
}

async function pollStatus() {
  const response = await fetch("status", { cache: "no-store" });
  if (!response.ok) return;
  const data = await response.json(), s = data.status;
  kind = data.kind;
  text("title", data.title);
  text("state", s.finished ? "finished" : "running");
  document.getElementById("state").className = "";
  text("seconds", s.seconds.toFixed(1) + " s");
  text("steps", s.totalSteps > 0 ? s.steps + " of " + s.totalSteps : String(s.steps));
  text("rate", s.stepsPerSecond.toFixed(1));
  text("frames", s.frames + " (" + s.dropped + ")");
  const ratio = s.copyLastError > 0 ? (s.modelError / s.copyLastError).toFixed(2) + "x" : "–";
  text("errors", s.modelError.toFixed(5) + " / " + s.copyLastError.toFixed(5) + " (" + ratio + ")");
  text("loss", s.loss.toPrecision(4));
  text("memory", data.memoryMiB.toFixed(1) + " MiB");
  document.getElementById("framesRow").hidden = kind !== "live";
  document.getElementById("errorRow").hidden = kind !== "live";
  document.getElementById("progressRow").hidden = !(s.totalSteps > 0);
  if (s.totalSteps > 0) document.getElementById("progress").value = s.steps / s.totalSteps;
  body.dataset.points = String(drawPlot(data.points));
  body.dataset.updates = String(Number(body.dataset.updates) + 1);
}

async function poll() {
  try {
    await pollStatus();
    if (kind === "live") await pollImages();
  } catch (error) {
    text("state", "disconnected (the run ended or the robot is unreachable); retrying");
    document.getElementById("state").className = "bad";
  }
  setTimeout(poll, 500);
}
poll();
</script>
</body>
</html>
"""#
}

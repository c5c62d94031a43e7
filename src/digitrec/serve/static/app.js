// The drawing page: pointer strokes on a transparent canvas, sent as PNG to /api/predict while
// drawing (at most one request in flight, at most every THROTTLE_MS) and on pointer up.
"use strict";

const THROTTLE_MS = 150;
const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
let drawing = false;
let dirty = false;      // strokes changed since the last request was sent
let inFlight = false;   // a request is on its way
let timer = null;
let sequence = 0;       // answers to older drawings (after a Clear) are ignored
let classes = [...Array(10).keys()].map(String);

function setupPad() {
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 20;  // px on a 280 px pad: MNIST's ~2 px strokes on its 28 px
}

function point(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * pad.width / rect.width, (event.clientY - rect.top) * pad.height / rect.height];
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  const [x, y] = point(event);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);  // a dot for a tap
  ctx.stroke();
  changed();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) {
    const [x, y] = point(e);
    ctx.lineTo(x, y);
  }
  ctx.stroke();
  changed();
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  clearTimeout(timer);
  timer = null;
  send();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function changed() {
  dirty = true;
  if (timer === null) timer = setTimeout(() => { timer = null; send(); }, THROTTLE_MS);
}

function send() {
  if (!dirty) return;
  if (inFlight) return;  // sent again when the current answer arrives
  dirty = false;
  inFlight = true;
  const mine = sequence;
  pad.toBlob(async (blob) => {
    const form = new FormData();
    form.append("file", blob, "drawing.png");
    try {
      const answer = await post("/api/predict", form);
      if (mine === sequence) showPrediction(answer);
    } catch (error) {
      if (mine === sequence) showError(error.message);
    } finally {
      inFlight = false;
      if (dirty && !drawing) send();
      else if (dirty && timer === null) changed();
    }
  }, "image/png");
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", body });
  const answer = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new Error(typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail));
  return answer;
}

$("clear").addEventListener("click", () => {
  ctx.clearRect(0, 0, pad.width, pad.height);
  sequence += 1;
  dirty = false;
  clearTimeout(timer);
  timer = null;
  resetPrediction();
});

function resetPrediction() {
  $("label").textContent = "–";
  $("confidence").textContent = "draw something";
  drawBars(new Array(classes.length).fill(0), -1);
  $("seen").getContext("2d").clearRect(0, 0, 28, 28);
  $("error").hidden = true;
}

function showPrediction(answer) {
  $("error").hidden = true;
  classes = answer.classes;
  $("label").textContent = answer.label;
  $("confidence").textContent = `${(answer.confidence * 100).toFixed(1)}% sure`;
  drawBars(answer.probabilities, answer.probabilities.indexOf(Math.max(...answer.probabilities)));
  drawSeen($("seen"), answer.input);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function drawBars(probabilities, best) {
  const bars = $("bars");
  bars.replaceChildren(...probabilities.map((p, i) => {
    const row = document.createElement("div");
    row.className = "bar" + (i === best ? " best" : "");
    row.setAttribute("role", "listitem");
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
    row.querySelector(".name").textContent = classes[i];
    row.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(p * 100).toFixed(1)}%`;
    return row;
  }));
}

function drawSeen(canvas, pixels) {
  // 28 rows of 28 ints, 0 background .. 255 ink: shown white on black, as MNIST stores it
  const context = canvas.getContext("2d");
  const image = context.createImageData(28, 28);
  pixels.flat().forEach((v, i) => {
    image.data.set([v, v, v, 255], i * 4);
  });
  context.putImageData(image, 0, 0);
}

let uploads = 0;  // answers to an earlier upload or mode are ignored
$("file").addEventListener("change", upload);
$("as-number").addEventListener("change", upload);  // ask again about the same photo

async function upload() {
  const file = $("file").files[0];
  if (!file) return;
  const mine = ++uploads;
  const asNumber = $("as-number").checked;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("boxes").hidden = true;
  const result = $("upload-result");
  result.textContent = "reading…";
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const answer = await post(asNumber ? "/api/read" : "/api/predict", form);
    if (mine !== uploads) return;
    if (asNumber) {
      showNumber(answer);
    } else {
      result.innerHTML = `<div class="label small"></div><div></div>`;
      result.firstChild.textContent = answer.label;
      result.lastChild.textContent = `${(answer.confidence * 100).toFixed(1)}% sure: the prediction and chart above show it`;
      showPrediction(answer);
    }
  } catch (error) {
    if (mine === uploads) showUploadError(error.message);
  }
}

function showNumber(answer) {
  const result = $("upload-result");
  result.innerHTML = `<div class="label small"></div><div class="digits"></div>`;
  result.firstChild.textContent = answer.text;
  for (const digit of answer.digits) {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    drawSeen(canvas, digit.input);
    const caption = document.createElement("figcaption");
    caption.textContent = `${digit.label} ${(digit.confidence * 100).toFixed(0)}%`;
    figure.append(canvas, caption);
    result.lastChild.append(figure);
  }
  const preview = $("preview");
  const outline = () => drawBoxes(preview, answer.digits);
  if (preview.complete) outline(); else preview.onload = outline;
}

function drawBoxes(image, digits) {
  const boxes = $("boxes");
  boxes.width = image.naturalWidth;
  boxes.height = image.naturalHeight;
  const context = boxes.getContext("2d");
  context.strokeStyle = "#e4572e";
  context.lineWidth = Math.max(2, image.naturalWidth / 150);
  for (const { box: [x0, y0, x1, y1] } of digits) context.strokeRect(x0, y0, x1 - x0, y1 - y0);
  boxes.hidden = false;
}

function showUploadError(message) {
  const error = document.createElement("p");
  error.className = "error";
  error.textContent = message;
  $("upload-result").replaceChildren(error);
}

async function loadInfo() {
  try {
    const health = await (await fetch("/api/health")).json();
    classes = health.classes;
    // "% sure" is a calibrated probability only when a temperature was fitted on held-out images
  const calibration = health.calibrated
    ? ` Confidences calibrated (temperature ${health.temperature.toFixed(2)}).`
    : " Confidences not calibrated: read them as scores, not probabilities.";
  $("model-info").textContent = `Model: ${health.model}${health.recipe ? ` (recipe ${health.recipe})` : ""}, ${health.engine}.${calibration}`;
  } catch (error) {
    $("model-info").textContent = "(the server does not answer)";
  }
  resetPrediction();
}

setupPad();
loadInfo();

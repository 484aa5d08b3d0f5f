"use strict";
// The job page: polls the job, then shows its verdicts in a sortable table (served as a file: the CSP allows no inline script).
const JOB = document.getElementById("job");
const LABELS = JSON.parse(JOB.dataset.labels);
let rows = [];
let sortKey = null, ascending = true;
function cell(v) { const td = document.createElement("td"); td.textContent = v === undefined || v === null ? "" : v; return td; }
function render() {
  const body = document.querySelector("#results tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.append(cell((r.path || "") + (r.line ? ":" + r.line : "")), cell(r.code));
    const v = cell(LABELS[r.verdict]); v.className = r.verdict; tr.append(v);
    tr.append(cell(r.lender_id ? r.lender_id + (r.lender_name ? " " + r.lender_name : "") : ""), cell(r.deposit_time_ms ? new Date(r.deposit_time_ms).toISOString() : ""), cell(r.supervision_index), cell(r.judicial_index));
    const holder = cell(r.holder_text); holder.className = "holder"; tr.append(holder);
    body.append(tr);
  }
}
document.querySelectorAll("#results th").forEach(th => th.addEventListener("click", () => {
  const key = th.dataset.key;
  ascending = sortKey === key ? !ascending : true; sortKey = key;
  rows.sort((a, b) => { const x = a[key] ?? "", y = b[key] ?? ""; return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1); });
  render();
}));
async function poll() {
  const r = await fetch("/web/jobs/" + encodeURIComponent(JOB.dataset.id) + "/status", {credentials: "same-origin"});
  const s = await r.json();
  document.getElementById("progress").value = s.done;
  document.getElementById("done").textContent = s.done;
  document.getElementById("counts").replaceChildren(...Object.entries(s.counts).map(([k, n]) => {
    const span = document.createElement("span"); span.className = k; span.id = "count-" + k; span.textContent = LABELS[k] + ": " + n; return span; }));
  document.getElementById("holders-unavailable").hidden = !s.holders_unavailable;
  if (s.status === "done") {
    rows = s.items; render();
    document.getElementById("results").hidden = false;
    document.getElementById("downloads").hidden = false;
  } else if (s.status === "failed") {
    document.getElementById("counts").textContent = "核验失败 failed: " + s.error;
  } else { setTimeout(poll, 300); }
}
poll();

// The request journal as tables: one flat list, or one table per task. Status, fault and
// schema violation (its JSON path and message) are columns of their own, so a problem is
// seen without opening anything. Credentials arrive already redacted by the emulator.

import { h } from "./dom.js";
import { formatTime } from "./timeline.js";

export function statusClass(entry) {
  if (entry.fault) return "st-fault";
  if (entry.status === null || entry.status === undefined) return "st-error";
  if (entry.status >= 400) return "st-error";
  return "st-ok";
}

export function isProblem(entry) {
  return Boolean(entry.fault || entry.violation || entry.status === null || entry.status >= 400);
}

// "traffic_ops/async_status.schema.json: at $.response.status: 'x' is not one of [...]"
export function splitViolation(text) {
  const match = /^(.*?): at (\$\S*): ([\s\S]*)$/.exec(text || "");
  return match ? { schema: match[1], path: match[2], message: match[3] } : { schema: "", path: "", message: text };
}

function queryText(query) {
  const pairs = Object.entries(query || {});
  return pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : "";
}

function entryRow(entry, { task = true, onTask } = {}) {
  const violation = entry.violation ? splitViolation(entry.violation) : null;
  const request = `${entry.method} ${entry.path}${queryText(entry.query)}`;
  const more = { query: entry.query, headers: entry.headers, body: entry.body };
  return h("tr", { class: isProblem(entry) ? "problem" : "" },
    h("td", { class: "num" }, String(entry.seq)),
    h("td", { class: "time" }, formatTime(entry.time)),
    h("td", {}, entry.api ?? "–"),
    h("td", { class: "request" },
      h("details", { dataset: { key: `seq:${entry.seq}` } },
        h("summary", { dataset: { focusKey: `entry:${entry.seq}` } }, h("code", {}, request)),
        h("pre", {}, JSON.stringify(more, null, 2)))),
    h("td", {}, h("span", { class: `status ${statusClass(entry)}` }, entry.status === null ? "closed" : String(entry.status))),
    h("td", {}, entry.fault ? h("span", { class: "badge fault" }, entry.fault) : ""),
    h("td", { class: "violation" }, violation ? [h("code", {}, violation.path), " ", violation.message] : ""),
    task ? h("td", {}, entry.task === null || entry.task === undefined ? "" : onTask
      ? h("button", { type: "button", class: "link", dataset: { focusKey: `jt:${entry.seq}` }, onclick: () => onTask(entry.api, entry.task) }, entry.task)
      : entry.task) : null);
}

export function renderEntries(entries, { task = true, onTask } = {}) {
  if (!entries.length) return h("p", { class: "muted" }, "No requests yet.");
  const columns = ["#", "Time", "API", "Request", "Status", "Fault", "Schema violation"].concat(task ? ["Task"] : []);
  return h("div", { class: "table-wrap", role: "region", "aria-label": "Requests", tabindex: "0" },
    h("table", { class: "journal" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, entries.map((e) => entryRow(e, { task, onTask })))));
}

export function renderJournal(entries, { group = "flat", problems = false, onTask } = {}) {
  const shown = entries.filter((e) => !problems || isProblem(e)).reverse().slice(0, 500);
  if (group !== "task") return renderEntries(shown, { onTask });
  const groups = new Map();
  for (const entry of shown) {
    const key = entry.task === null || entry.task === undefined ? `${entry.api ?? "–"}|` : `${entry.api}|${entry.task}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(entry);
  }
  if (!groups.size) return h("p", { class: "muted" }, "No requests yet.");
  return [...groups].map(([key, list]) => {
    const [api, taskId] = key.split("|");
    const bad = list.filter(isProblem).length;
    return h("section", { class: "journal-group" },
      h("h3", {}, taskId ? [`${api} task `, onTask ? h("button", { type: "button", class: "link", dataset: { focusKey: `jg:${key}` }, onclick: () => onTask(api, taskId) }, taskId) : taskId] : `${api}: no task`,
        h("span", { class: "muted" }, ` ${list.length} request${list.length === 1 ? "" : "s"}${bad ? `, ${bad} with problems` : ""}`)),
      renderEntries(list, { task: false }));
  });
}

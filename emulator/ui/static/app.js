// The dashboard. Everything it shows and does goes through the control API (api.js): what
// the page can do, a script can do. It asks the emulator again every second while it is
// open, visible and not paused; a closed page costs the emulator nothing.

import { AuthNeeded, del, get, hasToken, post, setToken } from "./api.js";
import { $, fillSelect, h, replaceContent } from "./dom.js";
import { renderEntries, renderJournal } from "./journal.js";
import {
  PHASES, describeStep, formatDuration, formatTime, isStatusRead, laneModel, renderPollLane, renderTimeline,
} from "./timeline.js";

const REFRESH_MS = 1000;
const JOURNAL_PAGE = 500; // new journal entries fetched per refresh at most
const JOURNAL_KEEP = 2000; // entries the page keeps for its views and row timelines
const VIEWS = ["tasks", "journal", "faults", "scenarios"];

const state = {
  live: true,
  blocked: false, // waiting for an admin token
  health: null,
  scenarios: [],
  tasks: [],
  nextOffset: null,
  offset: 0,
  journal: [],
  lastSeq: 0,
  faults: [],
  selected: null, // {api, id}
  detail: null,
  detailJournal: [],
  drawn: {},
};

// ---- messages -------------------------------------------------------------------------

function announce(message) {
  const status = $("status");
  status.textContent = "";
  // A fresh text node each time, so a repeated message is read again.
  requestAnimationFrame(() => { status.textContent = message; });
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function act(button, work, done) {
  if (button) button.disabled = true;
  try {
    const result = await work();
    showError("");
    if (done) announce(typeof done === "function" ? done(result) : done);
    await refresh({ force: true });
    return result;
  } catch (error) {
    handleError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

function handleError(error) {
  if (error instanceof AuthNeeded) {
    state.blocked = true;
    openTokenDialog(hasToken() ? "The emulator refused this token." : error.message);
    return;
  }
  showError(error.message || String(error));
}

// ---- the admin token ------------------------------------------------------------------

function openTokenDialog(message = "") {
  const dialog = $("token-dialog");
  $("token-error").textContent = message;
  $("token-error").hidden = !message;
  $("token-input").value = "";
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

function setupToken() {
  $("token-button").addEventListener("click", () => openTokenDialog());
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-dialog").close();
    state.blocked = false;
    announce("Admin token set for this tab.");
    refresh({ force: true, all: true });
  });
  $("token-forget").addEventListener("click", () => {
    setToken(null);
    $("token-input").value = "";
    announce("Admin token forgotten.");
  });
  $("token-cancel").addEventListener("click", () => $("token-dialog").close());
}

// ---- refreshing -----------------------------------------------------------------------

let timer = null;
let running = null;
let lastTook = 0;

function schedule() {
  clearTimeout(timer);
  // A refresh that made the server work long (a phase filter over a million tasks looks at
  // every one) is followed by a longer pause: the page keeps the server busy a fifth of
  // the time at most.
  const delay = Math.max(REFRESH_MS, 4 * lastTook);
  if (state.live && !state.blocked && !document.hidden) timer = setTimeout(() => refresh(), delay);
}

async function refresh({ force = false, all = false } = {}) {
  if (running) {
    while (running) await running;
    if (!force) return;
  }
  const started = performance.now();
  running = (async () => {
    try {
      if (all || !state.scenarios.length) await loadScenarios();
      await Promise.all([loadHealth(), loadTasks(), loadJournal(), loadFaults()]);
      if (state.selected) await loadDetail();
      state.blocked = false;
      if ($("error").dataset.fromRefresh) {
        delete $("error").dataset.fromRefresh;
        showError("");
      }
      draw();
    } catch (error) {
      if (!(error instanceof AuthNeeded)) $("error").dataset.fromRefresh = "1";
      handleError(error);
    }
  })();
  try {
    await running;
  } finally {
    running = null;
    lastTook = performance.now() - started;
    schedule();
  }
}

async function loadScenarios() {
  state.scenarios = (await get("scenarios")).scenarios;
  const apis = [...new Set(state.scenarios.map((s) => s.api))].sort();
  const pairs = apis.map((a) => [a, a]);
  fillSelect($("create-api"), pairs);
  fillSelect($("filter-api"), pairs);
  fillSelect($("fault-api"), pairs);
  fillScenarioChoices();
  drawScenarios();
}

function fillScenarioChoices() {
  const api = $("create-api").value;
  fillSelect($("create-scenario"), state.scenarios.filter((s) => s.api === api).map((s) => [s.name, s.name]));
  const filterApi = $("filter-api").value;
  const names = [...new Set(state.scenarios.filter((s) => !filterApi || s.api === filterApi).map((s) => s.name))].sort();
  fillSelect($("filter-scenario"), names.map((n) => [n, n]));
}

async function loadHealth() {
  state.health = await get("health");
}

function taskQuery() {
  const form = $("task-filter");
  return {
    api: form.api.value, phase: form.phase.value, scenario: form.scenario.value,
    limit: form.limit.value, offset: state.offset,
  };
}

async function loadTasks() {
  const page = await get("tasks", taskQuery());
  state.tasks = page.tasks;
  state.nextOffset = page.next_offset;
}

async function loadJournal() {
  // Asks from the newest entry the page has (included), so it can tell whether that entry
  // is still there: when it is not, the journal was cleared or reset (or the server
  // started again), and the page starts over from the newest page of entries.
  const from = state.lastSeq;
  const fresh = (await get("requests", { after: Math.max(from - 1, 0), limit: JOURNAL_PAGE })).requests;
  if (from) {
    if (fresh.length && fresh[0].seq === from) {
      fresh.shift();
    } else {
      state.journal = [];
      state.lastSeq = 0; // a server started again counts from 1: the next refresh takes all
    }
  }
  if (fresh.length) {
    state.journal = state.journal.concat(fresh).slice(-JOURNAL_KEEP);
    state.lastSeq = fresh[fresh.length - 1].seq;
  }
}

async function loadFaults() {
  state.faults = (await get("faults")).faults;
}

async function loadDetail() {
  const { api, id } = state.selected;
  const path = `tasks/${encodeURIComponent(api)}/${encodeURIComponent(id)}`;
  try {
    const [task, journal] = await Promise.all([
      get(path), get("requests", { api, task: id, limit: JOURNAL_KEEP }),
    ]);
    state.detail = task;
    state.detailJournal = journal.requests;
  } catch (error) {
    if (error.status === 404) {
      state.selected = null;
      state.detail = null;
      announce(`Task ${api} ${id} is gone (the emulator was reset).`);
      return;
    }
    throw error;
  }
}

// ---- drawing --------------------------------------------------------------------------

function changed(part, signature) {
  if (state.drawn[part] === signature) return false;
  state.drawn[part] = signature;
  return true;
}

function draw() {
  drawClock();
  drawTasks();
  drawDetail();
  drawJournal();
  drawFaults();
}

function drawClock() {
  const clock = state.health.clock;
  $("clock-mode").textContent = `${clock.mode} clock`;
  $("clock-mode").className = `badge clock-${clock.mode}`;
  $("clock-now").textContent = clock.iso;
  $("clock-now").dateTime = clock.iso;
  $("version").textContent = `v${state.health.version}`;
  $("count-tasks").textContent = `(${state.health.tasks.toLocaleString("en")})`;
  $("count-faults").textContent = `(${state.faults.length})`;
}

function scenarioOf(task) {
  return state.scenarios.find((s) => s.api === task.api && s.name === task.scenario);
}

function readsOf(task, entries) {
  return entries.filter((e) => e.api === task.api && e.task === task.id && isStatusRead(e, task.status_path))
    .sort((a, b) => a.time - b.time || a.seq - b.seq);
}

// The task's lanes: its own lifecycle, or one per subtask when they give its phase.
function lanes(task, entries) {
  const scenario = scenarioOf(task) || { steps: [], subtasks: [] };
  const now = state.health.clock.now;
  const reads = readsOf(task, entries);
  const known = { forcedAt: task.forced ? task.step_entered_at : null, forcedPhase: task.phase };
  if (scenario.steps.length || task.forced) {
    if (!task.forced) Object.assign(known, { index: task.step, enteredAt: task.step_entered_at, readsAt: task.step_reads_at, reads: task.reads });
    return [{ name: null, steps: scenario.steps, model: laneModel(scenario.steps, task.created_at, reads, now, known) }];
  }
  return scenario.subtasks.map((sub) => ({
    name: sub.name, steps: sub.steps, model: laneModel(sub.steps, task.created_at, reads, now, {}),
  }));
}

function phaseBadge(phase) {
  return h("span", { class: `badge phase-${phase}` }, phase);
}

function drawTasks() {
  const sig = JSON.stringify([state.tasks, state.lastSeq, state.health.clock.now, state.selected, state.journal.length]);
  const form = $("task-filter");
  const from = state.offset + 1;
  const to = state.offset + state.tasks.length;
  const filtered = form.api.value || form.phase.value || form.scenario.value;
  const total = filtered ? "" : ` of ${state.health.tasks.toLocaleString("en")}`;
  $("page-info").textContent = state.tasks.length ? `${from}–${to}${total}` : "no tasks";
  $("page-prev").disabled = state.offset === 0;
  $("page-next").disabled = state.nextOffset === null;
  if (!changed("tasks", sig)) return;
  const items = state.tasks.map((task) => {
    const key = `${task.api}/${task.id}`;
    const selected = state.selected && state.selected.api === task.api && state.selected.id === task.id;
    const laneNodes = lanes(task, state.journal).map((lane) => renderTimeline(lane.model, {
      compact: true, label: `${task.api} task ${task.id}${lane.name ? `, subtask ${lane.name}` : ""}: ${lane.model.segments.map((s) => s.phase + (s.state === "current" ? " (now)" : "")).join(", ")}`,
    }));
    return h("li", { class: `task-item${selected ? " selected" : ""}`, dataset: { key } },
      h("div", { class: "task-head" },
        h("button", {
          type: "button", class: "link", "aria-current": selected ? "true" : false,
          dataset: { focusKey: `task:${key}` }, onclick: () => select(task.api, task.id),
        }, h("span", { class: "api" }, task.api), " ", h("strong", {}, task.id)),
        phaseBadge(task.phase),
        h("span", { class: "muted" }, task.scenario),
        h("span", { class: "muted" }, `${task.reads} read${task.reads === 1 ? "" : "s"}`),
        task.forced ? h("span", { class: "badge forced" }, "forced") : null),
      laneNodes);
  });
  replaceContent($("task-list"), items.length ? items : [h("li", { class: "empty" }, "No tasks match.")]);
}

function select(api, id) {
  state.selected = { api, id };
  state.drawn = {};
  $("task-detail").hidden = false;
  refresh({ force: true }).then(() => {
    $("detail-heading").focus();
    $("task-detail").scrollIntoView({ block: "nearest" });
  });
}

function definition(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function stepTable(lane) {
  const rows = lane.model.segments.map((s) => {
    const step = s.index !== null && s.index !== undefined ? lane.steps[s.index] : null;
    return h("tr", { class: s.state },
      h("td", {}, s.index === null || s.index === undefined ? "–" : String(s.index + 1)),
      h("td", {}, phaseBadge(s.phase), s.forced ? " forced" : ""),
      h("td", {}, step ? describeStep(step).replace(step.phase, "").trim() || "never" : "never"),
      h("td", {}, s.state === "expected" ? `≈ ${formatTime(s.start)}` : formatTime(s.start)),
      h("td", {}, s.state === "current" ? [
        s.expectedEnd ? `≈ ${formatTime(s.expectedEnd)}` : "",
        s.pollsLeft ? `${s.expectedEnd ? " or " : ""}after ${s.pollsLeft} more read${s.pollsLeft === 1 ? "" : "s"}` : "",
      ].join("") || "–" : s.state === "expected" ? "" : `${formatTime(s.end)}${s.by ? ` (${s.by})` : ""}`),
      h("td", {}, s.readsFrom === null || s.readsFrom === undefined ? "" : s.readsTo === null || s.readsTo === undefined ? `from ${s.readsFrom + 1}` : s.readsTo > s.readsFrom ? `${s.readsFrom + 1}–${s.readsTo}` : "none"));
  });
  return h("div", { class: "table-wrap", role: "region", "aria-label": "Steps", tabindex: "0" },
    h("table", { class: "steps" },
      h("thead", {}, h("tr", {}, ["#", "Phase", "Ends after", "Began", "Ended", "Reads"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}

function drawDetail() {
  const section = $("task-detail");
  const task = state.detail;
  if (!state.selected || !task) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const sig = JSON.stringify([task, state.detailJournal.length, state.detailJournal.at(-1)?.seq, state.health.clock.now]);
  if (!changed("detail", sig)) return;
  $("detail-heading").textContent = `${task.api} task ${task.id}`;
  const scenario = scenarioOf(task);
  const allLanes = lanes(task, state.detailJournal);
  const copy = h("button", {
    type: "button", class: "small", dataset: { focusKey: "copy-url" },
    onclick: () => navigator.clipboard?.writeText(task.status_url).then(() => announce("Status URL copied."), () => announce("Copying is not allowed here: select the URL instead.")),
  }, "Copy");
  const step = scenario && task.step !== null && !task.forced ? scenario.steps[task.step] : null;
  const facts = h("dl", { class: "facts" },
    definition("Phase", phaseBadge(task.phase), task.forced ? " (forced)" : ""),
    definition("Scenario", task.scenario, scenario ? h("span", { class: "muted" }, ` — ${scenario.lifecycle}`) : ""),
    definition("Step", step ? `${task.step + 1} of ${scenario.steps.length}: ${describeStep(step)}` : task.forced ? "forced" : "from subtasks"),
    definition("Status URL", h("code", { class: "url" }, task.status_url), " ", copy),
    definition("Status reads", String(task.reads)),
    definition("Created", formatTime(task.created_at)),
    definition("Last change", formatTime(task.changed_at)),
    Object.keys(task.scope).length ? definition("Scope", h("code", {}, JSON.stringify(task.scope))) : null,
    task.subtasks.length ? definition("Subtasks", h("ul", { class: "plain" }, task.subtasks.map((s) => h("li", {}, `${s.name} (${s.id}) `, phaseBadge(s.phase))))) : null);
  const laneNodes = allLanes.map((lane) => h("figure", { class: "lane" },
    h("figcaption", {}, lane.name ? `Subtask ${lane.name}` : "Against the emulator clock",
      lane.model.approximate ? h("span", { class: "muted" }, " — earlier boundaries estimated: the journal no longer has every read") : ""),
    renderTimeline(lane.model),
    h("p", { class: "caption" }, "By status reads"),
    lane.model.reads.length ? renderPollLane(lane.model, lane.steps) : h("p", { class: "muted" }, "No status reads yet."),
    stepTable(lane)));
  replaceContent($("detail-facts"), facts);
  replaceContent($("detail-timeline"),
    h("h4", {}, "Timeline"),
    legend(),
    laneNodes,
    h("details", { dataset: { key: "fields" }, class: "fields-json" }, h("summary", {}, "Fields"), h("pre", {}, JSON.stringify(task.fields, null, 2))));
  replaceContent($("detail-journal"), renderEntries([...state.detailJournal].reverse(), { task: false }));
}

function legend() {
  const item = (cls, text) => h("li", {}, h("span", { class: `key ${cls}`, "aria-hidden": "true" }), text);
  return h("ul", { class: "legend", "aria-label": "Legend" },
    PHASES.map((p) => item(`phase-${p}`, p)),
    item("expected", "expected"),
    item("mark-read", "status read"),
    item("mark-error", "error answer"),
    item("mark-fault", "fault"),
    item("forced-line", "forced transition"),
    item("now-line", "now"));
}

function drawJournal() {
  const options = $("journal-options");
  const group = options.group.value;
  const problems = options.problems.checked;
  if (!changed("journal", JSON.stringify([state.lastSeq, state.journal.length, group, problems]))) return;
  replaceContent($("journal-body"), renderJournal(state.journal, { group, problems, onTask: (api, id) => { location.hash = "#tasks"; select(api, id); } }));
}

function describeMatch(fault) {
  const keys = ["api", "method", "path", "query", "scenario", "task", "step"];
  const parts = keys.filter((k) => fault[k] !== undefined && fault[k] !== null).map((k) => `${k}=${typeof fault[k] === "object" ? JSON.stringify(fault[k]) : fault[k]}`);
  return parts.join(", ") || "every request";
}

function describeEffect(fault) {
  const skip = new Set(["id", "kind", "applied", "remaining", "source", "api", "method", "path", "query", "scenario", "task", "step", "probability", "times"]);
  return Object.entries(fault).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k}=${v}`).join(", ");
}

function drawFaults() {
  if (!changed("faults", JSON.stringify(state.faults))) return;
  if (!state.faults.length) {
    replaceContent($("fault-list"), h("p", { class: "muted" }, "No faults: every request is answered normally."));
    return;
  }
  const rows = state.faults.map((f) => h("tr", {},
    h("td", {}, h("code", {}, f.id)),
    h("td", {}, f.kind, " ", h("span", { class: "muted" }, describeEffect(f))),
    h("td", {}, describeMatch(f)),
    h("td", {}, [f.probability !== undefined && f.probability !== null ? `p=${f.probability}` : "", f.times ? `${f.times} times` : ""].filter(Boolean).join(", ") || "always"),
    h("td", { class: "num" }, String(f.applied)),
    h("td", { class: "num" }, f.remaining === null || f.remaining === undefined ? "∞" : String(f.remaining)),
    h("td", {}, h("button", {
      type: "button", class: "small", dataset: { focusKey: `fault:${f.id}` }, "aria-label": `Remove fault ${f.id}`,
      onclick: (event) => act(event.currentTarget, () => del(`faults/${encodeURIComponent(f.id)}`), `Fault ${f.id} removed.`),
    }, "Remove"))));
  replaceContent($("fault-list"), h("div", { class: "table-wrap", role: "region", "aria-label": "Faults", tabindex: "0" },
    h("table", { class: "faults" },
      h("thead", {}, h("tr", {}, ["Id", "Kind", "Matches", "How often", "Applied", "Left", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))));
}

// A scenario's lifecycle drawn as a task's timeline would be: each step as long as its
// `for`; a step that only polls end gets a nominal width, marked as such.
function scenarioLane(steps) {
  const total = steps.reduce((n, s) => n + (s.for || 0), 0) || 10;
  let t = 0;
  const segments = steps.map((step, index) => {
    const width = step.for ?? (index === steps.length - 1 ? total * 0.25 : total * 0.2);
    const segment = { index, phase: step.phase, start: t, end: t + width, by: null, state: "planned" };
    t += width;
    return segment;
  });
  return { segments, reads: [], forcedAt: null, approximate: false, start: 0, now: 0 };
}

function drawScenarios() {
  const items = state.scenarios.map((s) => {
    const key = `${s.api}/${s.name}`;
    const laneList = s.steps.length ? [[null, s.steps]] : s.subtasks.map((sub) => [sub.name, sub.steps]);
    return h("li", { class: "scenario panel" },
      h("h3", {}, h("span", { class: "api" }, s.api), " ", s.name),
      s.description ? h("p", {}, s.description) : null,
      h("p", { class: "muted" }, s.lifecycle),
      laneList.map(([name, steps]) => h("figure", { class: "lane" },
        name ? h("figcaption", {}, `Subtask ${name}: ${steps.map(describeStep).join(" → ")}`) : null,
        renderTimeline(scenarioLane(steps), { label: `${key}: ${steps.map(describeStep).join(", then ")}`, hideNow: true }))),
      h("p", {}, s.trigger ? ["Started by ", h("code", {}, `${s.trigger.method} ${s.trigger.path}`)] : "Started from the control API only",
        s.preload.length ? ["; preloaded: ", s.preload.join(", ")] : ""),
      h("button", {
        type: "button", dataset: { focusKey: `create:${key}` },
        onclick: (event) => createTask(event.currentTarget, s.api, s.name, ""),
      }, "Create task"));
  });
  replaceContent($("scenario-list"), items);
}

// ---- actions --------------------------------------------------------------------------

async function createTask(button, api, scenario, id) {
  const body = { api, scenario };
  if (id) body.id = id;
  const task = await act(button, () => post("tasks", body), (t) => `Created ${t.api} task ${t.id} (${t.phase}).`);
  if (task) {
    if (location.hash !== "#tasks") location.hash = "#tasks";
    select(task.api, task.id);
  }
}

// `30`, `30s`, `1.5m`, `2h`, `1h30m`, `500ms`, `1d`, as the emulator's own durations read.
export function parseDuration(text) {
  const compact = text.trim().replace(/\s+/g, "");
  if (/^\d+(\.\d+)?$/.test(compact)) return Number(compact);
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  const parts = [...compact.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!compact || parts.map((p) => p[0]).join("") !== compact) return null;
  return parts.reduce((n, p) => n + Number(p[1]) * units[p[2]], 0);
}

async function advance(button, seconds) {
  await act(button, () => post("clock/advance", { seconds }), (clock) => `Clock advanced by ${formatDuration(seconds)} to ${clock.iso}.`);
}

function transition(button, phase, message) {
  const { api, id } = state.selected;
  const body = { phase };
  if (message) body.message = message;
  return act(button, () => post(`tasks/${encodeURIComponent(api)}/${encodeURIComponent(id)}/transition`, body),
    (t) => `${t.api} task ${t.id} is now ${t.phase}.`);
}

function faultBody(form) {
  const kind = form.kind.value;
  const body = { kind };
  if (kind === "error") body.status = Number(form.status.value);
  if (kind === "latency") body.seconds = Number(form.seconds.value || 0);
  if (kind === "truncate" && form.fraction.value) body.fraction = Number(form.fraction.value);
  for (const key of ["api", "scenario", "task", "path"]) if (form[key].value.trim()) body[key] = form[key].value.trim();
  const step = form.step.value.trim();
  if (step) body.step = /^\d+$/.test(step) ? Number(step) : step;
  if (form.probability.value) body.probability = Number(form.probability.value);
  if (form.times.value) body.times = Number(form.times.value);
  return body;
}

function showKindFields() {
  const kind = $("fault-kind").value;
  for (const label of document.querySelectorAll("#fault-form [data-kind]")) label.hidden = label.dataset.kind !== kind;
}

function showView() {
  const wanted = location.hash.slice(1);
  const view = VIEWS.includes(wanted) ? wanted : "tasks";
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    if (link.dataset.viewLink === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function setup() {
  fillSelect($("filter-phase"), PHASES.map((p) => [p, p]));
  fillSelect($("steer-phase"), PHASES.map((p) => [p, p]));
  setupToken();
  window.addEventListener("hashchange", showView);
  showView();
  document.addEventListener("visibilitychange", () => (document.hidden ? clearTimeout(timer) : refresh()));

  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => advance(button, Number(button.dataset.advance)));
  }
  $("advance-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("advance-by");
    const seconds = parseDuration(input.value);
    if (seconds === null) {
      input.setAttribute("aria-invalid", "true");
      showError(`Not a duration: ${input.value} (write e.g. 30s, 30m, 2h, 1d or 1h30m).`);
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    advance(event.submitter, seconds);
  });
  $("live-toggle").addEventListener("click", (event) => {
    state.live = !state.live;
    event.currentTarget.setAttribute("aria-pressed", String(state.live));
    event.currentTarget.textContent = state.live ? "Live" : "Paused";
    announce(state.live ? "Live updates on." : "Live updates paused.");
    if (state.live) refresh();
    else clearTimeout(timer);
  });
  $("reset-button").addEventListener("click", (event) => {
    if (!window.confirm("Reset the emulator? Tasks, journal and run-time faults go; the clock starts again.")) return;
    state.selected = null;
    state.detail = null;
    state.journal = [];
    state.offset = 0;
    act(event.currentTarget, () => post("reset", {}), (r) => `Reset: ${r.tasks} preloaded task${r.tasks === 1 ? "" : "s"}.`);
  });

  $("create-api").addEventListener("change", fillScenarioChoices);
  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    createTask(event.submitter, form.api.value, form.scenario.value, form.id.value.trim());
  });
  $("task-filter").addEventListener("change", (event) => {
    if (event.target.name === "api") fillScenarioChoices();
    state.offset = 0;
    refresh({ force: true });
  });
  $("page-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - Number($("filter-limit").value));
    refresh({ force: true });
  });
  $("page-next").addEventListener("click", () => {
    if (state.nextOffset !== null) state.offset = state.nextOffset;
    refresh({ force: true });
  });
  $("detail-close").addEventListener("click", () => {
    const key = state.selected && `task:${state.selected.api}/${state.selected.id}`;
    state.selected = null;
    state.detail = null;
    $("task-detail").hidden = true;
    state.drawn = {};
    draw();
    const back = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (back) back.focus();
  });
  $("steer-complete").addEventListener("click", (event) => transition(event.currentTarget, "succeeded", $("steer-message").value.trim()));
  $("steer-fail").addEventListener("click", (event) => transition(event.currentTarget, "failed", $("steer-message").value.trim()));
  $("steer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    transition(event.submitter, $("steer-phase").value, $("steer-message").value.trim());
  });

  $("journal-options").addEventListener("change", () => drawJournal());
  $("journal-clear").addEventListener("click", (event) => {
    state.journal = [];
    act(event.currentTarget, () => del("requests"), "Journal cleared.");
  });

  $("fault-kind").addEventListener("change", showKindFields);
  showKindFields();
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, () => post("faults", faultBody(event.currentTarget)), (f) => `Fault ${f.id} (${f.kind}) added.`);
  });
  $("faults-clear").addEventListener("click", (event) => act(event.currentTarget, () => del("faults"), "Every fault removed."));

  refresh({ all: true });
}

setup();

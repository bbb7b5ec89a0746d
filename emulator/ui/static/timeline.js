// Timelines: a lifecycle's steps laid against the emulator clock, with every status read
// where it landed. The server keeps only where a task stands now (its step, when that step
// began and the read count then); the earlier boundaries are found again here by running
// the engine's rule (lifecycle.advance: a step ends after `for` seconds or `polls` reads,
// whichever comes first) over the task's reads in the journal.

const SVG = "http://www.w3.org/2000/svg";
export const PHASES = ["scheduled", "running", "succeeded", "failed"];

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds > 0 && seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  const parts = [];
  let rest = seconds;
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    const whole = Math.floor(rest / size);
    if (whole) {
      parts.push(`${whole}${unit}`);
      rest -= whole * size;
    }
  }
  if (rest > 1e-6 || parts.length === 0) parts.push(`${Math.round(rest * 1000) / 1000}s`);
  return parts.join("");
}

export function formatTime(epoch) {
  if (epoch === null || epoch === undefined) return "";
  const date = new Date(epoch * 1000);
  if (Number.isNaN(date.getTime())) return String(epoch);
  return date.toISOString().replace(".000Z", "Z");
}

export function describeStep(step) {
  const ends = [];
  if (step.for !== null && step.for !== undefined) ends.push(formatDuration(step.for));
  if (step.polls !== null && step.polls !== undefined) ends.push(`${step.polls} poll${step.polls === 1 ? "" : "s"}`);
  return ends.length ? `${step.phase} ${ends.join(" or ")}` : step.phase;
}

// A status read of the task whose status path is `statusPath` (with its query, for Ops
// Center): the same path (or Spectrum Discover's /peek below it) and the same query values.
export function isStatusRead(entry, statusPath) {
  const [path, query] = statusPath.split("?");
  if (entry.path !== path && entry.path !== `${path}/peek`) return false;
  const wanted = new URLSearchParams(query || "");
  for (const [name, value] of wanted) {
    if ((entry.query || {})[name] !== value) return false;
  }
  return true;
}

// The lane of one lifecycle: segments (past, current and expected steps) and read marks.
// `known` is what the server says of the current step, to check the replay against.
export function laneModel(steps, start, entries, now, known = {}) {
  const segments = [];
  const reads = [];
  let index = 0;
  let entered = start;
  let readsAtEntry = 0;
  let count = 0;
  const last = steps.length - 1;
  const cutoff = known.forcedAt ?? null;

  function settle(t) {
    while (index < last) {
      const step = steps[index];
      let endsAt = step.for === null || step.for === undefined ? Infinity : entered + step.for;
      let by = "time";
      if (step.polls !== null && step.polls !== undefined && count - readsAtEntry >= step.polls && t < endsAt) {
        endsAt = t;
        by = "polls";
      }
      if (endsAt > t) break;
      segments.push({ index, phase: step.phase, start: entered, end: endsAt, by, readsFrom: readsAtEntry, readsTo: count, state: "past" });
      index += 1;
      entered = endsAt;
      readsAtEntry = count;
    }
  }

  for (const entry of entries) {
    if (cutoff !== null && entry.time >= cutoff) break;
    settle(entry.time);
    count += 1;
    reads.push({ entry, number: count, step: index });
    settle(entry.time);
  }
  settle(Math.min(now, cutoff ?? now));

  let approximate = false;
  if (known.index !== undefined && known.index !== null && cutoff === null) {
    if (known.index !== index || (known.reads !== undefined && known.reads !== count)) approximate = true;
    // The server is right about the current step: past segments are trimmed or stretched to it.
    while (segments.length && segments[segments.length - 1].index >= known.index) segments.pop();
    const from = segments.length ? segments[segments.length - 1].end : start;
    const missing = known.index - segments.length;
    for (let i = 0; i < missing; i += 1) {
      const a = from + ((known.enteredAt - from) * i) / missing;
      const b = from + ((known.enteredAt - from) * (i + 1)) / missing;
      const at = segments.length;
      segments.push({ index: at, phase: steps[at].phase, start: a, end: b, by: null, readsFrom: null, readsTo: null, state: "past" });
    }
    if (segments.length) segments[segments.length - 1].end = known.enteredAt;
    index = known.index;
    entered = known.enteredAt;
    readsAtEntry = known.readsAt ?? readsAtEntry;
  }

  if (cutoff !== null) {
    // A forced transition replaced the lifecycle: the step it cut short ends there, and
    // the forced phase lasts from then on.
    if (steps.length) segments.push({ index, phase: steps[index].phase, start: entered, end: cutoff, by: "forced", readsFrom: readsAtEntry, readsTo: count, state: "past" });
    segments.push({ index: null, phase: known.forcedPhase, start: cutoff, end: null, by: null, readsFrom: count, readsTo: null, state: "current", forced: true });
    for (const entry of entries) {
      if (entry.time >= cutoff) reads.push({ entry, number: ++count, step: null });
    }
    return { segments, reads, forcedAt: cutoff, approximate: false, start, now };
  }
  if (!steps.length) return { segments, reads, forcedAt: null, approximate, start, now };

  const current = { index, phase: steps[index].phase, start: entered, end: null, by: null, readsFrom: readsAtEntry, readsTo: null, state: "current" };
  segments.push(current);
  // What comes next, if the clock alone moved the task on (reads may end a step sooner).
  let next = entered;
  for (let i = index; i < last; i += 1) {
    const step = steps[i];
    const ends = step.for === null || step.for === undefined ? null : next + step.for;
    if (i === index) {
      current.expectedEnd = ends;
      if (step.polls) current.pollsLeft = Math.max(0, step.polls - (count - readsAtEntry));
    }
    if (ends === null) break;
    segments.push({ index: i + 1, phase: steps[i + 1].phase, start: ends, end: null, by: null, state: "expected" });
    next = ends;
  }
  for (let i = 0; i < segments.length - 1; i += 1) {
    if (segments[i].end === null) segments[i].end = segments[i + 1].start;
  }
  return { segments, reads, forcedAt: null, approximate, start, now };
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function pct(value) {
  return `${Math.max(0, Math.min(100, value)).toFixed(3)}%`;
}

function readClass(entry) {
  if (entry.fault) return "mark-fault";
  if (entry.status === null || entry.status >= 400) return "mark-error";
  if (entry.violation) return "mark-violation";
  return "mark-read";
}

function readTitle(read) {
  const e = read.entry;
  const parts = [`read ${read.number} at ${formatTime(e.time)}`, `${e.method} → ${e.status ?? "no answer"}`];
  if (read.step !== null && read.step !== undefined) parts.push(`in step ${read.step + 1}`);
  if (e.fault) parts.push(`fault: ${e.fault}`);
  if (e.violation) parts.push(`schema violation: ${e.violation}`);
  return parts.join(", ");
}

// The lane against the clock. Positions are percentages of the SVG's width, so the drawing
// fills any width without stretching its text.
export function renderTimeline(model, { label, compact = false, hideNow = false } = {}) {
  const height = compact ? 28 : 64;
  const band = compact ? 16 : 28;
  const top = compact ? 6 : 16;
  // The axis covers what happened (steps, reads, a forced transition) and now; when now is
  // far past all of it (a clock moved by a day), the axis stops soon after and an arrow at
  // its end says how much later now is, so the steps are not squeezed into a sliver.
  const events = model.segments.flatMap((s) => [s.start, s.end]).concat(model.reads.map((r) => r.entry.time), model.forcedAt ?? model.start);
  const content = Math.max(model.start, ...events.filter((v) => v !== null && v !== undefined && Number.isFinite(v)));
  const contentSpan = content - model.start || 1;
  const clipped = !hideNow && model.now - model.start > 4 * contentSpan;
  const end = clipped ? content + contentSpan * 0.5 : model.start + (Math.max(content, model.now) - model.start || 1) * 1.04;
  const x = (t) => ((t - model.start) / (end - model.start)) * 100;
  const svg = el("svg", { class: `timeline${compact ? " compact" : ""}`, width: "100%", height, role: "img" });
  svg.setAttribute("aria-label", label || summarize(model));
  svg.append(el("title", {}, label || summarize(model)));
  for (const s of model.segments) {
    const from = x(s.start);
    const to = x(s.end ?? end);
    const rect = el("rect", {
      x: pct(from), y: top, width: pct(Math.max(to - from, 0.4)), height: band,
      class: `seg phase-${s.phase} ${s.state}${s.forced ? " forced" : ""}`,
    });
    const until = s.end === null || s.end === undefined ? "on" : formatTime(s.end);
    rect.append(el("title", {}, `${s.forced ? "forced " : ""}${s.phase} (${s.state}) ${formatTime(s.start)} – ${until}${s.by ? `, ended by ${s.by}` : ""}`));
    svg.append(rect);
    if (!compact && to - from > 9) {
      svg.append(el("text", { x: pct(from + 0.6), y: top + band / 2 + 4, class: `seg-label${s.state === "expected" ? " on-light" : ""}` }, s.phase));
    }
  }
  for (const read of model.reads) {
    const at = x(read.entry.time);
    const cls = readClass(read.entry);
    const mark = cls === "mark-fault"
      ? el("path", { d: "M0,0 l5,-8 l-10,0 z", class: cls, transform: "" })
      : el("line", { x1: pct(at), x2: pct(at), y1: top - 4, y2: top + band + 4, class: cls });
    if (cls === "mark-fault") {
      // A triangle above the lane: a nested svg places it at a percentage.
      const holder = el("svg", { x: pct(at), y: top - 2, overflow: "visible", class: "fault-holder" });
      holder.append(mark);
      holder.append(el("title", {}, readTitle(read)));
      svg.append(holder);
      svg.append(el("line", { x1: pct(at), x2: pct(at), y1: top, y2: top + band, class: cls }));
    } else {
      mark.append(el("title", {}, readTitle(read)));
      svg.append(mark);
    }
  }
  if (model.forcedAt !== null) {
    const at = pct(x(model.forcedAt));
    const line = el("line", { x1: at, x2: at, y1: 0, y2: height, class: "forced-line" });
    line.append(el("title", {}, `forced transition at ${formatTime(model.forcedAt)}`));
    svg.append(line);
    if (!compact) svg.append(el("text", { x: at, y: height - 2, class: "forced-label" }, "forced"));
  }
  if (hideNow) return svg;
  const nowAt = clipped ? "100%" : pct(x(model.now));
  const later = clipped ? ` (${formatDuration(model.now - end)} past the end of this axis)` : "";
  const nowLine = el("line", { x1: nowAt, x2: nowAt, y1: 0, y2: height, class: `now-line${clipped ? " off-axis" : ""}` });
  nowLine.append(el("title", {}, `now: ${formatTime(model.now)}${later}`));
  svg.append(nowLine);
  if (!compact) {
    const text = clipped ? `now +${formatDuration(model.now - end)} →` : "now";
    svg.append(el("text", { x: nowAt, y: 11, class: "now-label", "text-anchor": "end" }, text));
  }
  return svg;
}

// The same lane counted in status reads instead of seconds: where each poll-bounded step
// ended, and which read fell in which step.
export function renderPollLane(model, steps) {
  const total = model.reads.length;
  const left = model.segments.reduce((n, s) => n + ((s.state === "current" && s.pollsLeft) || 0), 0);
  // Read n sits at n; a step holding reads a..b spans a-0.5 to b+0.5.
  const end = total + Math.max(left, 1) + 0.5;
  const x = (n) => (n / end) * 100;
  const svg = el("svg", { class: "timeline polls", width: "100%", height: 40, role: "img" });
  const text = `By status reads: ${total} read${total === 1 ? "" : "s"}${left ? `, ${left} more end the current step` : ""}`;
  svg.setAttribute("aria-label", text);
  svg.append(el("title", {}, text));
  for (const s of model.segments) {
    if (s.state === "expected" || s.readsFrom === null || s.readsFrom === undefined) continue;
    const from = x(s.readsFrom + 0.5);
    const to = s.state === "current" ? 100 : x((s.readsTo ?? s.readsFrom) + 0.5);
    const rect = el("rect", { x: pct(from), y: 10, width: pct(Math.max(to - from, 0.6)), height: 18, class: `seg phase-${s.phase} ${s.state}` });
    const step = s.index !== null && steps[s.index];
    const held = s.state === "current" ? `reads from ${s.readsFrom + 1}` : s.readsTo > s.readsFrom ? `reads ${s.readsFrom + 1}–${s.readsTo}` : "no reads";
    rect.append(el("title", {}, `${s.phase}: ${held}${step && step.polls ? ` (ends after ${step.polls} polls)` : ""}`));
    svg.append(rect);
  }
  for (const read of model.reads) {
    const at = pct(x(read.number));
    const line = el("line", { x1: at, x2: at, y1: 6, y2: 32, class: readClass(read.entry) });
    line.append(el("title", {}, readTitle(read)));
    svg.append(line);
  }
  return svg;
}

export function summarize(model) {
  const steps = model.segments.map((s) => `${s.forced ? "forced " : ""}${s.phase}${s.state === "current" ? " (now)" : s.state === "expected" ? " (expected)" : ""}`);
  const faults = model.reads.filter((r) => r.entry.fault).length;
  return `Timeline: ${steps.join(", ")}; ${model.reads.length} status read${model.reads.length === 1 ? "" : "s"}${faults ? `, ${faults} faulted` : ""}`;
}

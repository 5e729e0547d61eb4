// Traces: the list a filter expression selects (X-Ray's language, parsed on the server),
// and one trace's timeline: a waterfall of its segments and subsegments.
import { api, h, link, ms, params, pretty, problem, table, windowSelect } from "../common.js";

export async function show(main, _page, [traceId]) {
  if (traceId) return timeline(main, traceId);
  return list(main);
}

function flags(t) {
  return [t.HasFault && "fault", t.HasError && "error", t.HasThrottle && "throttle", t.IsPartial && "partial"].filter(Boolean).join(", ") || "ok";
}

function request(t) {
  const http = t.Http || {};
  if (http.HttpMethod || http.HttpStatus) return `${http.HttpMethod || ""} ${http.HttpStatus || ""}`.trim();
  return t.EntryPoint ? `${t.EntryPoint.Name} (${(t.EntryPoint.Type || "").replace(/^AWS::/, "")})` : "-";
}

function annotations(t) {
  return Object.entries(t.Annotations || {}).map(([k, vs]) => `${k}=${vs.map((v) => Object.values(v.AnnotationValue)[0]).join(",")}`).join(" ");
}

async function list(main) {
  const query = params();
  let minutes = Number(query.get("minutes") || 15);
  const filter = h("input#trace-filter", { value: query.get("filter") || "", size: 70, placeholder: 'filter expression: service("orders") AND responsetime > 0.5, annotation.customer = "alice", fault' });
  const body = h("div#traces-body");
  const load = async () => {
    const q = new URLSearchParams({ minutes });
    if (filter.value.trim()) q.set("filter", filter.value.trim());
    history.replaceState(null, "", `?${q}`);
    body.replaceChildren(h("p.muted", "Searching…"));
    try {
      const r = await api(`/traces?${q}`);
      body.replaceChildren(
        h("p.muted", `${r.Matched} traces matched (${r.Scanned} looked at)${r.Matched > r.Traces.length ? `; the newest ${r.Traces.length} are shown` : ""}.`),
        table([
          ["Trace", (t) => link(`/traces/${t.Id}`, t.Id)],
          ["Started", (t) => new Date(t.StartTime * 1000).toLocaleTimeString()],
          ["Duration", (t) => ms(t.Duration)],
          ["Response", (t) => ms(t.ResponseTime)],
          ["Request", request],
          ["Status", flags],
          ["Annotations", annotations],
        ], r.Traces, { empty: "No traces match in this window." }));
    } catch (error) { body.replaceChildren(problem(error)); }
  };
  filter.addEventListener("keydown", (e) => { if (e.key === "Enter") load(); });
  main.append(h("h1", "Traces"),
    h("div.card", h("div.row", filter, windowSelect(minutes, (m) => { minutes = m; load(); }), h("button#trace-search", { on: { click: load } }, "Search")), body));
  await load();
}

async function timeline(main, traceId) {
  const t = await api(`/traces/${encodeURIComponent(traceId)}`);
  const rows = t.Rows;
  const total = Math.max(1e-6, ...rows.map((r) => r.end ?? r.start));
  const detail = h("div#trace-detail");
  const kind = (r) => (r.details.fault ? "fault" : r.details.throttle ? "throttle" : r.details.error ? "error" : "");
  const waterfall = h("div.wf#waterfall",
    h("div.wf-axis", h("span", "Segment"), h("span", h("span", "0 ms"), h("span", ms(total / 2)), h("span", ms(total))), h("span", "Duration")),
    rows.map((r, i) => {
      const end = r.end ?? total;
      const bar = h(`div.wf-bar${r.subsegment ? ".sub" : ""}${kind(r) ? "." + kind(r) : ""}${r.end == null ? ".open" : ""}`);
      bar.style.left = `${(r.start / total) * 100}%`;
      bar.style.width = `${Math.max(0.2, ((end - r.start) / total) * 100)}%`;
      const name = h("div.wf-name", { title: r.label }, r.label, r.mark ? h("span.muted", ` ${r.mark}`) : null);
      name.style.paddingLeft = `${r.depth * 14}px`;
      const row = h("div.wf-row", { "data-name": r.name, "data-depth": r.depth, tabindex: 0, on: { click: () => {
        for (const other of waterfall.querySelectorAll(".wf-row.on")) other.classList.remove("on");
        row.classList.add("on");
        showRow(detail, r);
      } } }, name, h("div.wf-track", bar), h("div.wf-dur", r.end == null ? "in progress" : ms(r.end - r.start)));
      if (i === 0) row.classList.add("root");
      return row;
    }));
  const segments = rows.filter((r) => !r.subsegment).length;
  main.append(
    h("h1", `Trace ${t.Id}`),
    h("p.muted", `${ms(t.Duration)} · ${segments} segments, ${rows.length - segments} subsegments${t.LimitExceeded ? " · limit exceeded (segments dropped)" : ""} · `, link("/traces", "all traces")),
    h("div.card", waterfall), detail);
}

function showRow(detail, r) {
  const d = r.details;
  const sections = [];
  if (d.cause) sections.push(h("h3", "Error"), h("pre#detail-error", pretty(d.cause)));
  if (d.annotations) sections.push(h("h3", "Annotations"), h("pre#detail-annotations", pretty(d.annotations)));
  if (d.metadata) sections.push(h("h3", "Metadata"), h("pre#detail-metadata", pretty(d.metadata)));
  for (const key of ["http", "aws", "sql"]) if (d[key]) sections.push(h("h3", key.toUpperCase()), h("pre", pretty(d[key])));
  detail.replaceChildren(h("div.card",
    h("h2", r.label),
    h("p.muted", `starts at ${ms(r.start)}, ${r.end == null ? "in progress" : `lasts ${ms(r.end - r.start)}`}${r.mark ? " · " + r.mark : ""}`),
    sections.length ? sections : h("p.muted", "No annotations, metadata or errors.")));
}

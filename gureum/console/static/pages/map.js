// The service map: GetServiceGraph's services for a window, drawn as a layered graph in
// inline SVG. A node's ring is its requests' share of ok, error, throttle and fault; its
// labels its request rate and average latency; an edge's label the calls' average latency.
import { api, h, params, pretty, s, windowSelect } from "../common.js";

const COLOURS = { ok: "#2e8540", error: "#d97706", throttle: "#8b5cf6", fault: "#d13212" };
const R = 28;

export async function show(main) {
  let minutes = Number(params().get("minutes") || 15);
  const body = h("div#map-body");
  const detail = h("div#map-detail");
  const load = async () => {
    history.replaceState(null, "", `?minutes=${minutes}`);
    const graph = await api(`/service-map?minutes=${minutes}`);
    detail.replaceChildren();
    body.replaceChildren(graph.Services.length ? draw(graph.Services, minutes, detail) : h("p.muted#map-empty", "No traces in this window: invoke a function with active tracing."));
  };
  main.append(
    h("div.row", h("h1", "Service map"), windowSelect(minutes, (m) => { minutes = m; load(); }),
      h("button", { on: { click: load } }, "Refresh"),
      h("span.legend", Object.entries(COLOURS).map(([k]) => h("span", h(`i.sw-${k}`), k)))),
    h("div.card", body), detail,
  );
  await load();
}

function stats(service) {
  const st = service.SummaryStatistics;
  if (!st) { // the client: its requests are its calls
    const total = (service.Edges || []).reduce((n, e) => n + (e.SummaryStatistics?.TotalCount || 0), 0);
    return { total, ok: total, error: 0, throttle: 0, fault: 0, avg: null };
  }
  const timed = (service.ResponseTimeHistogram || []).reduce((n, b) => n + b.Count, 0) || st.TotalCount;
  return {
    total: st.TotalCount, ok: st.OkCount, error: st.ErrorStatistics.OtherCount,
    throttle: st.ErrorStatistics.ThrottleCount, fault: st.FaultStatistics.TotalCount,
    avg: timed ? st.TotalResponseTime / timed : null,
  };
}

/** Layers by longest path from the roots (a cycle stops growing after n rounds). */
function layers(services) {
  const depth = new Map(services.map((sv) => [sv.ReferenceId, 0]));
  for (let round = 0; round < services.length; round++) {
    let moved = false;
    for (const sv of services) for (const e of sv.Edges || []) {
      if (e.ReferenceId === sv.ReferenceId || !depth.has(e.ReferenceId)) continue;
      const wanted = depth.get(sv.ReferenceId) + 1;
      if (wanted > depth.get(e.ReferenceId) && wanted < services.length) { depth.set(e.ReferenceId, wanted); moved = true; }
    }
    if (!moved) break;
  }
  return depth;
}

function arc(cx, cy, r, from, to) {
  const a0 = from * 2 * Math.PI - Math.PI / 2, a1 = to * 2 * Math.PI - Math.PI / 2;
  const large = to - from > 0.5 ? 1 : 0;
  return `M${cx + r * Math.cos(a0)},${cy + r * Math.sin(a0)} A${r},${r} 0 ${large} 1 ${cx + r * Math.cos(a1)},${cy + r * Math.sin(a1)}`;
}

function ring(cx, cy, st) {
  const total = st.ok + st.error + st.throttle + st.fault;
  if (!total) return [s("circle", { cx, cy, r: R, fill: "none", stroke: "#c6ccd2", "stroke-width": 6 })];
  const parts = [];
  let at = 0;
  for (const kind of ["ok", "error", "throttle", "fault"]) {
    const share = st[kind] / total;
    if (!share) continue;
    parts.push(share >= 0.9999
      ? s("circle", { cx, cy, r: R, fill: "none", stroke: COLOURS[kind], "stroke-width": 6, "data-share": kind })
      : s("path", { d: arc(cx, cy, R, at, at + share), fill: "none", stroke: COLOURS[kind], "stroke-width": 6, "data-share": kind }));
    at += share;
  }
  return parts;
}

const short = (type) => (type || "").replace(/^AWS::/, "");

function draw(services, minutes, detail) {
  const depth = layers(services);
  const columns = new Map();
  for (const sv of services) {
    const d = depth.get(sv.ReferenceId);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(sv);
  }
  const gapX = 230, gapY = 130, left = 90, top = 60;
  const at = new Map();
  let tallest = 0;
  for (const [d, column] of columns) {
    column.sort((a, b) => a.Name.localeCompare(b.Name));
    column.forEach((sv, i) => at.set(sv.ReferenceId, { x: left + d * gapX, y: top + i * gapY }));
    tallest = Math.max(tallest, column.length);
  }
  const width = left * 2 + Math.max(0, ...depth.values()) * gapX;
  const height = top + tallest * gapY + 60;
  const svg = s("svg", { id: "service-map", viewBox: `0 0 ${width} ${height}`, width: Math.max(width, 400), height, role: "img", "aria-label": "service map" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8d99a8" }))));
  const byId = new Map(services.map((sv) => [sv.ReferenceId, sv]));
  const bows = new Map();
  for (const sv of services) for (const e of sv.Edges || []) {
    const a = at.get(sv.ReferenceId), b = at.get(e.ReferenceId);
    if (!a || !b || a === b) continue;
    const st = e.SummaryStatistics || {};
    const timed = (e.ResponseTimeHistogram || []).reduce((n, x) => n + x.Count, 0) || st.TotalCount;
    const avg = timed ? (st.TotalResponseTime / timed) * 1000 : null;
    // Neighbouring layers: a straight line; an edge that skips layers bows below them.
    const skip = Math.abs(depth.get(e.ReferenceId) - depth.get(sv.ReferenceId)) > 1 || b.x <= a.x;
    const bow = skip ? 46 + 18 * (bows.get(sv.ReferenceId) || 0) : 0;
    if (skip) bows.set(sv.ReferenceId, (bows.get(sv.ReferenceId) || 0) + 1);
    const cx = (a.x + b.x) / 2, cy = (a.y + b.y) / 2 + bow * 2;
    const toward = (p, q, r) => { const dx = q.x - p.x, dy = q.y - p.y, l = Math.hypot(dx, dy) || 1; return { x: p.x + (dx / l) * r, y: p.y + (dy / l) * r }; };
    const c = { x: cx, y: cy };
    const p1 = toward(a, skip ? c : b, R + 4), p2 = toward(b, skip ? c : a, R + 6);
    const mid = skip ? { x: (p1.x + 2 * cx + p2.x) / 4, y: (p1.y + 2 * cy + p2.y) / 4 } : { x: (p1.x + p2.x) / 2, y: (p1.y + p2.y) / 2 };
    svg.append(s("g", { class: "edge-group", "data-source": sv.Name, "data-target": byId.get(e.ReferenceId)?.Name },
      s("path", { class: "edge", d: skip ? `M${p1.x},${p1.y} Q${cx},${cy} ${p2.x},${p2.y}` : `M${p1.x},${p1.y} L${p2.x},${p2.y}`, "marker-end": "url(#arrow)" }),
      s("text", { class: "edge-label", x: mid.x, y: mid.y + (skip ? 14 : -6), "text-anchor": "middle", text: avg == null ? "" : `${avg.toFixed(1)} ms` })));
  }
  for (const sv of services) {
    const { x, y } = at.get(sv.ReferenceId);
    const st = stats(sv);
    const rate = st.total / minutes;
    const node = s("g", { class: "node", "data-name": sv.Name, "data-type": sv.Type, tabindex: 0, role: "button", "aria-label": `${sv.Name} ${sv.Type}`,
      on: { click: () => showNode(detail, sv, st, minutes) } },
      s("circle", { class: "face", cx: x, cy: y, r: R - 3 }),
      ring(x, y, st),
      s("text", { x, y: y + 4, "text-anchor": "middle", class: "sub", text: st.avg == null ? "" : `${(st.avg * 1000).toFixed(0)} ms` }),
      s("text", { x, y: y + R + 16, "text-anchor": "middle", text: sv.Name.length > 30 ? sv.Name.slice(0, 29) + "…" : sv.Name }),
      s("text", { x, y: y + R + 30, "text-anchor": "middle", class: "sub", text: `${short(sv.Type)} · ${rate < 10 ? rate.toFixed(2) : rate.toFixed(0)}/min` }));
    svg.append(node);
  }
  return svg;
}

function showNode(detail, sv, st, minutes) {
  const pct = (n) => (st.total ? `${((100 * n) / st.total).toFixed(1)}%` : "-");
  detail.replaceChildren(h("div.card",
    h("h2", `${sv.Name} (${sv.Type})`),
    h("dl.kv",
      h("dt", "Requests"), h("dd", `${st.total} (${(st.total / minutes).toFixed(2)}/min)`),
      h("dt", "Average latency"), h("dd", st.avg == null ? "-" : `${(st.avg * 1000).toFixed(1)} ms`),
      h("dt", "OK"), h("dd", pct(st.ok)), h("dt", "Errors (4xx)"), h("dd", pct(st.error)),
      h("dt", "Throttles (429)"), h("dd", pct(st.throttle)), h("dt", "Faults (5xx)"), h("dd", pct(st.fault))),
    h("div.row", h("a", { href: `/_console/traces?filter=${encodeURIComponent(`service("${sv.Name}")`)}&minutes=${minutes}` }, "Traces through this service")),
    h("details", h("summary", "Raw GetServiceGraph entry"), h("pre", pretty(sv)))));
}

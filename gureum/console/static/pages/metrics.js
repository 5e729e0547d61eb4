// Metrics: a function's charts (invocations, errors, throttles, duration p50/p99,
// concurrency) over a chosen window, drawn as inline SVG, or why there are none.
import { api, h, params, s } from "../common.js";

const WINDOWS = ["1h", "3h", "12h", "1d", "1w"];

export async function show(main) {
  const query = params();
  const { Functions } = await api("/functions");
  const fn = h("select#metrics-function", { "aria-label": "function" }, Functions.map((f) => h("option", { value: f.FunctionName }, f.FunctionName)));
  if (query.get("function")) fn.value = query.get("function");
  const win = h("select#metrics-window", { "aria-label": "window" }, WINDOWS.map((w) => h("option", { value: w, selected: w === (query.get("window") || "1h") }, w)));
  const body = h("div#metrics-body");
  const load = async () => {
    history.replaceState(null, "", `?function=${encodeURIComponent(fn.value)}&window=${win.value}`);
    if (!fn.value) { body.replaceChildren(h("p.muted", "No functions yet.")); return; }
    const r = await api(`/functions/${encodeURIComponent(fn.value)}/metrics?window=${win.value}`);
    if (!r.Available) {
      body.replaceChildren(h("div.notice#metrics-unavailable", h("strong", "Metrics not available. "), r.Reason, "."));
      return;
    }
    body.replaceChildren(h("div.grid3", r.Charts.map((c) => h("div.card", { "data-metric": `${c.Metric}:${c.Stat}` }, h("h3", `${c.Metric} (${c.Stat})`), chart(c.Points, r.Start, r.End)))));
  };
  fn.addEventListener("change", load);
  win.addEventListener("change", load);
  main.append(h("h1", "Metrics"), h("div.row", h("label", "Function ", fn), h("label", "Window ", win)), body);
  await load();
}

/** A line chart of [[epoch seconds, value], ...] over [start, end]. */
export function chart(points, start, end, width = 380, height = 140) {
  const pad = { l: 40, r: 8, t: 8, b: 20 };
  const top = Math.max(1, ...points.map(([, v]) => v));
  const x = (t) => pad.l + ((t - start) / Math.max(1, end - start)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / top) * (height - pad.t - pad.b);
  const path = points.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" },
    [0, 0.5, 1].map((f) => [s("line", { class: "grid", x1: pad.l, x2: width - pad.r, y1: y(top * f), y2: y(top * f) }),
      s("text", { class: "sub", x: pad.l - 4, y: y(top * f) + 4, "text-anchor": "end", text: fmt(top * f) })]),
    s("text", { class: "sub", x: pad.l, y: height - 4, text: new Date(start * 1000).toLocaleTimeString() }),
    s("text", { class: "sub", x: width - pad.r, y: height - 4, "text-anchor": "end", text: new Date(end * 1000).toLocaleTimeString() }),
    points.length ? s("path", { class: "line", d: path }) : s("text", { class: "sub", x: width / 2, y: height / 2, "text-anchor": "middle", text: "no data points" }),
    // each period's point (a lone one has no line to show it)
    points.map(([t, v]) => s("circle", { class: "point", cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5 },
      s("title", { text: `${new Date(t * 1000).toLocaleTimeString()}: ${fmt(v)}` }))),
  );
}

const fmt = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : Number.isInteger(v) ? String(v) : v.toFixed(1));

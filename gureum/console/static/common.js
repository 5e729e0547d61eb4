// Shared by every page: the JSON calls (with the session's CSRF token) and small DOM helpers.
export const BASE = "/_console";
const csrf = document.querySelector('meta[name="csrf"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.type = body?.error;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-Gureum-Csrf"] = csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${BASE}/api${path}`, init);
  if (response.status === 401) {
    location.href = `${BASE}/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
    throw new ApiError(401, { message: "signed out" });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export { csrf };

/** h("div.card#id", {attrs, on: {click}}, ...children) */
export function h(tag, attrs, ...children) {
  const [, name = "div", rest = ""] = /^([a-z0-9]+)?(.*)$/i.exec(tag);
  const el = document.createElement(name);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "on") for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value != null) el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "on") for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (key === "text") el.textContent = value;
    else if (value != null) el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

export function table(columns, rows, { onRow, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return h("p.muted", empty);
  return h(
    "table",
    h("thead", h("tr", columns.map(([title]) => h("th", title)))),
    h(
      "tbody",
      rows.map((row) =>
        h(
          onRow ? "tr.clickable" : "tr",
          onRow ? { on: { click: () => onRow(row) } } : null,
          columns.map(([, cell]) => h("td", cell(row))),
        ),
      ),
    ),
  );
}

export const badge = (text) => h(`span.badge${text ? "." + String(text).replace(/\W/g, "") : ""}`, text ?? "-");
export const pretty = (value) => JSON.stringify(value, null, 2);
export const ms = (seconds) => (seconds == null ? "-" : `${(seconds * 1000).toFixed(1)} ms`);
export const when = (epochMs) => (epochMs ? new Date(epochMs).toLocaleString() : "-");
export const bytes = (n) => (n == null ? "-" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`);

export function problem(error) {
  return h("p.problem", { role: "alert" }, error instanceof Error ? error.message : String(error));
}

/** Re-render into ``el`` from an async builder, showing errors in place. */
export async function fill(el, build) {
  try {
    const content = await build();
    el.replaceChildren(...[content].flat());
  } catch (error) {
    if (error?.status !== 401) el.replaceChildren(problem(error));
  }
}

export function go(path) {
  history.pushState(null, "", `${BASE}${path}`);
  window.dispatchEvent(new Event("popstate"));
}

/** A link within the console (app.js routes its clicks without reloading). */
export function link(path, text) {
  return h("a", { href: `${BASE}${path}` }, text);
}

export function params() {
  return new URLSearchParams(location.search);
}

export function windowSelect(value, onChange, choices = [[5, "5 min"], [15, "15 min"], [60, "1 h"], [360, "6 h"], [1440, "1 day"], [10080, "1 week"]]) {
  const select = h("select", { "aria-label": "time window", on: { change: () => onChange(Number(select.value)) } },
    choices.map(([minutes, label]) => h("option", { value: minutes, selected: Number(value) === minutes }, label)));
  return select;
}

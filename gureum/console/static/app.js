// The console's router: each page is a path under /_console/ and an ES module in pages/.
import { BASE, csrf, h, problem } from "./common.js";

const PAGES = {
  functions: "functions", logs: "logs", metrics: "metrics", "service-map": "map",
  traces: "traces", queues: "resources", streams: "resources", tables: "resources",
  mappings: "resources", apis: "resources",
};
const main = document.getElementById("main");
let current = null;
let routed = 0;

async function route() {
  const mine = ++routed;
  const parts = location.pathname.slice(BASE.length).split("/").filter(Boolean).map(decodeURIComponent);
  const page = parts[0] || "functions";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (current?.leave) current.leave();
  current = null;
  const module = PAGES[page];
  if (!module) {
    main.replaceChildren(problem(`No page ${page}`));
    return;
  }
  try {
    const loaded = await import(`./pages/${module}.js`);
    const view = h("div");
    const shown = (await loaded.show(view, page, parts.slice(1))) || null;
    if (mine !== routed) { // another route started meanwhile: this one is stale
      shown?.leave?.();
      return;
    }
    main.replaceChildren(...view.childNodes);
    current = shown;
    document.title = `${main.querySelector("h1")?.textContent || page} · gureum console`;
  } catch (error) {
    if (mine !== routed) return;
    if (error?.status !== 401) main.replaceChildren(problem(error));
  }
  main.dataset.ready = page;
  performance.mark("gureum-ready"); // (benchmarks/console.py reads it: navigation to drawn)
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[href]");
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || a.target) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`)) return;
  event.preventDefault();
  history.pushState(null, "", url.pathname + url.search);
  route();
});
window.addEventListener("popstate", route);
document.getElementById("signout").addEventListener("click", async () => {
  await fetch(`${BASE}/signout`, { method: "POST", headers: { "X-Gureum-Csrf": csrf } }).catch(() => null);
  location.href = `${BASE}/signin`;
});
if (document.querySelector('meta[name="auth"]')?.content === "off") {
  document.getElementById("signout").replaceWith(h("span.muted", "(authentication is off)"));
}
route();

// Logs: a live tail of a log group (polled once a second), filtered with CloudWatch's
// filter pattern syntax on the server.
import { api, go, h, params, problem } from "../common.js";

const POLL_MS = 1000;

export async function show(main) {
  const { Groups } = await api("/logs/groups");
  const query = params();
  const group = h("select#log-group", { "aria-label": "log group" },
    Groups.map((g) => h("option", { value: g.logGroupName }, g.logGroupName)));
  const wanted = query.get("group");
  if (wanted && !Groups.some((g) => g.logGroupName === wanted)) group.prepend(h("option", { value: wanted }, wanted));
  if (wanted) group.value = wanted;
  const pattern = h("input#log-pattern", { placeholder: 'filter pattern: ERROR, "Task timed out", { $.level = "error" }, [ip, user, ...]', value: query.get("pattern") || "", size: 60 });
  const output = h("pre.log#log-output", { "aria-label": "log events" });
  const status = h("span.muted#log-status");
  const toggle = h("button#log-toggle", "Pause");
  let after = null;
  let timer = null;
  let running = true;
  let generation = 0;

  const restart = () => {
    const q = new URLSearchParams();
    if (group.value) q.set("group", group.value);
    if (pattern.value) q.set("pattern", pattern.value);
    history.replaceState(null, "", `?${q}`);
    after = null;
    output.replaceChildren();
    generation += 1;
    clearTimeout(timer);
    if (running) poll(generation);
  };

  async function poll(mine) {
    if (!group.value || mine !== generation) return;
    try {
      const q = new URLSearchParams({ group: group.value, pattern: pattern.value });
      if (after !== null) q.set("after", after);
      const r = await api(`/logs/tail?${q}`);
      if (mine !== generation) return;
      after = r.after;
      const atBottom = output.scrollHeight - output.scrollTop - output.clientHeight < 30;
      for (const e of r.events) {
        output.append(h("span.ts", new Date(e.timestamp).toISOString().slice(11, 23) + " "), e.message.endsWith("\n") ? e.message : e.message + "\n");
      }
      while (output.childNodes.length > 4000) output.firstChild.remove();
      if (atBottom) output.scrollTop = output.scrollHeight;
      status.textContent = `live · ${new Date().toLocaleTimeString()}`;
      timer = setTimeout(() => poll(mine), r.more ? 0 : POLL_MS);
    } catch (error) {
      status.replaceChildren(problem(error));
      if (error.status !== 400) timer = setTimeout(() => poll(mine), POLL_MS * 3);
    }
  }

  group.addEventListener("change", restart);
  pattern.addEventListener("keydown", (e) => { if (e.key === "Enter") restart(); });
  toggle.addEventListener("click", () => {
    running = !running;
    toggle.textContent = running ? "Pause" : "Resume";
    generation += 1;
    clearTimeout(timer);
    if (running) poll(generation);
    else status.textContent = "paused";
  });
  main.append(
    h("h1", "Logs"),
    h("div.card",
      h("div.row", h("label", "Log group ", group), pattern, h("button", { on: { click: restart } }, "Apply"), toggle, status),
      Groups.length || wanted ? output : h("p.muted", "No log groups yet: invoke a function."),
    ),
  );
  restart();
  return { leave: () => { generation += 1; clearTimeout(timer); } };
}

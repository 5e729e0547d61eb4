// Functions: the list with live state, a function's page (test, code, configuration,
// versions and aliases, tags), and a new function from pasted code.
import { api, badge, bytes, go, h, link, pretty, problem, table } from "../common.js";

export async function show(main, _page, [name, tab]) {
  if (name === "new") return create(main);
  if (name) return detail(main, name, tab || "test");
  return list(main);
}

const LIST_REFRESH_MS = 5000;

async function list(main) {
  const card = h("div.card#functions-list");
  const render = async () => {
    const { Functions } = await api("/functions");
    card.replaceChildren(table(
      [
        ["Name", (f) => link(`/functions/${encodeURIComponent(f.FunctionName)}`, f.FunctionName)],
        ["Runtime", (f) => f.Runtime],
        ["State", (f) => badge(f.State)],
        ["Last update", (f) => badge(f.LastUpdateStatus)],
        ["Warm sandboxes", (f) => `${f.Sandboxes.idle} idle · ${f.Sandboxes.busy} busy`],
        ["Memory", (f) => `${f.MemorySize} MB`],
        ["Code size", (f) => bytes(f.CodeSize)],
        ["Last modified", (f) => f.LastModified],
      ],
      Functions,
      { empty: "No functions yet: create one from code, or with `gureum deploy` / boto3." },
    ));
  };
  await render();
  main.append(
    h("div.row", h("h1", "Functions"),
      h("button.primary#create-function", { on: { click: () => go("/functions/new") } }, "Create function"),
      h("span.muted", "state and sandboxes refresh every 5 s")),
    card,
  );
  // Live state: the list is read again while the page is open.
  const timer = setInterval(() => render().catch(() => null), LIST_REFRESH_MS);
  return { leave: () => clearInterval(timer) };
}

async function create(main) {
  const { Runtimes, StarterCode } = await api("/functions");
  const runtimes = [...Runtimes.python, ...Runtimes.nodejs];
  const family = (runtime) => (runtime.startsWith("python") ? "python" : "nodejs");
  const name = h("input#fn-name", { name: "FunctionName", placeholder: "my-function", required: true, pattern: "[A-Za-z0-9_-]{1,64}" });
  const runtime = h("select#fn-runtime", { name: "Runtime" },
    runtimes.map((r) => h("option", { value: r, selected: r === "python3.12" }, r)));
  const memory = h("input#fn-memory", { type: "number", value: 128, min: 128, max: 10240, step: 1 });
  const timeout = h("input#fn-timeout", { type: "number", value: 3, min: 1, max: 900 });
  const tracing = h("input#fn-tracing", { type: "checkbox" });
  const code = h("textarea#fn-code", { spellcheck: "false", "aria-label": "code" });
  code.value = StarterCode.python;
  let shown = "python";
  runtime.addEventListener("change", () => {
    const next = family(runtime.value);
    if (next !== shown && (code.value === StarterCode[shown] || !code.value.trim())) code.value = StarterCode[next];
    shown = next;
  });
  const status = h("div");
  const deploy = h("button.primary#deploy", { type: "submit" }, "Create function");
  const form = h("form.card", { on: { submit: async (event) => {
    event.preventDefault();
    deploy.disabled = true;
    status.replaceChildren(h("p.muted", "Deploying…"));
    try {
      const config = await api("/functions", { method: "POST", body: {
        FunctionName: name.value.trim(), Runtime: runtime.value, Code: code.value,
        MemorySize: memory.value, Timeout: timeout.value, Tracing: tracing.checked } });
      go(`/functions/${encodeURIComponent(config.FunctionName)}`);
    } catch (error) {
      status.replaceChildren(problem(error));
      deploy.disabled = false;
    }
  } } },
    h("div.row", h("label", "Function name ", name), h("label", "Runtime ", runtime)),
    h("div.row", h("label", "Memory (MB) ", memory), h("label", "Timeout (s) ", timeout),
      h("label", tracing, " Active tracing (X-Ray)")),
    h("h3", "Code"),
    h("p.muted", "One file, as the Lambda console's inline editor: lambda_function.py (handler lambda_function.lambda_handler) or index.mjs (index.handler)."),
    code, h("div.row", deploy), status,
  );
  main.append(h("h1", "Create function"), form);
}

const TABS = [["test", "Test"], ["code", "Code"], ["configuration", "Configuration"], ["versions", "Versions and aliases"], ["tags", "Tags"]];

async function detail(main, name, tab) {
  const fn = await api(`/functions/${encodeURIComponent(name)}`);
  const c = fn.Configuration;
  const body = h("div");
  const tabs = h("div.tabs", { role: "tablist" }, TABS.map(([key, title]) =>
    h(`button${key === tab ? ".on" : ""}`, { role: "tab", "data-tab": key, on: { click: () => go(`/functions/${encodeURIComponent(name)}/${key}`) } }, title)));
  main.append(
    h("div.row", h("h1", c.FunctionName), badge(c.State), badge(c.LastUpdateStatus),
      h("span.muted", `${c.Runtime} · ${c.MemorySize} MB · ${fn.Sandboxes.idle} warm, ${fn.Sandboxes.busy} busy`)),
    h("div.row",
      link(`/logs?group=${encodeURIComponent(`/aws/lambda/${c.FunctionName}`)}`, "Logs"),
      link(`/metrics?function=${encodeURIComponent(c.FunctionName)}`, "Metrics"),
      link(`/traces?filter=${encodeURIComponent(`service("${c.FunctionName}")`)}`, "Traces")),
    tabs, body,
  );
  const render = { test: testTab, code: codeTab, configuration: configTab, versions: versionsTab, tags: tagsTab }[tab] || testTab;
  await render(body, fn);
}

function kv(pairs) {
  return h("dl.kv", pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h("dt", k), h("dd", v instanceof Node ? v : typeof v === "object" && v !== null ? h("code", JSON.stringify(v)) : String(v ?? "-"))]));
}

function configTab(body, fn) {
  const c = fn.Configuration;
  body.append(h("div.card", kv([
    ["ARN", c.FunctionArn], ["Runtime", c.Runtime], ["Handler", c.Handler], ["Architectures", (c.Architectures || []).join(", ")],
    ["Memory", `${c.MemorySize} MB`], ["Ephemeral storage", `${c.EphemeralStorage?.Size ?? 512} MB`], ["Timeout", `${c.Timeout} s`],
    ["Code size", bytes(c.CodeSize)], ["Code SHA-256", c.CodeSha256], ["Role", c.Role], ["Description", c.Description || "-"],
    ["Tracing", c.TracingConfig?.Mode], ["Layers", (c.Layers || []).map((l) => l.Arn).join(", ") || "-"],
    ["Environment", c.Environment?.Variables || {}], ["Reserved concurrency", fn.ReservedConcurrency ?? "unreserved"],
    ["SnapStart", c.SnapStart?.ApplyOn || "None"], ["Last modified", c.LastModified], ["Revision", c.RevisionId],
  ])));
}

function versionsTab(body, fn) {
  body.append(
    h("h2", "Versions"),
    h("div.card", table([["Version", (v) => v.Version], ["Description", (v) => v.Description || "-"], ["Code SHA-256", (v) => h("code", v.CodeSha256)], ["Code size", (v) => bytes(v.CodeSize)], ["Last modified", (v) => v.LastModified]], fn.Versions)),
    h("h2", "Aliases"),
    h("div.card", table([["Alias", (a) => a.Name], ["Version", (a) => a.FunctionVersion], ["Weights", (a) => pretty(a.RoutingConfig?.AdditionalVersionWeights || {})], ["Description", (a) => a.Description || "-"]], fn.Aliases, { empty: "No aliases." })),
  );
}

function tagsTab(body, fn) {
  const tags = Object.entries(fn.Tags || {});
  body.append(h("div.card", table([["Key", ([k]) => k], ["Value", ([, v]) => v]], tags, { empty: "No tags." })));
}

function codeTab(body, fn) {
  const c = fn.Configuration;
  if (!fn.Editable) {
    body.append(h("p.notice", `The inline editor takes Python and Node.js functions; ${c.Runtime} code is deployed as a package (gureum deploy, UpdateFunctionCode).`));
    return;
  }
  const code = h("textarea#code-editor", { spellcheck: "false", "aria-label": "code" });
  const status = h("div");
  body.append(h("div.card",
    h("p.muted", `Replaces the function's package with one file named after its handler (${c.Handler}). The package's other files are not kept.`),
    code,
    h("div.row", h("button.primary#deploy-code", { on: { click: async () => {
      status.replaceChildren(h("p.muted", "Deploying…"));
      try {
        const config = await api("/functions", { method: "POST", body: { FunctionName: c.FunctionName, Code: code.value, Update: true } });
        status.replaceChildren(h("p.notice", `Deployed: code ${config.CodeSha256.slice(0, 12)}…, ${bytes(config.CodeSize)}.`));
      } catch (error) { status.replaceChildren(problem(error)); }
    } } }, "Deploy")), status));
}

async function testTab(body, fn) {
  const name = fn.Configuration.FunctionName;
  const path = `/functions/${encodeURIComponent(name)}`;
  let { Saved, Templates } = await api(`${path}/events`);
  const picker = h("select#event-picker", { "aria-label": "test event" });
  const eventName = h("input#event-name", { placeholder: "event name", pattern: "[A-Za-z0-9_.-]{1,25}" });
  const editor = h("textarea#event-editor", { spellcheck: "false", "aria-label": "event JSON" });
  const result = h("div#test-result");
  const fillPicker = () => {
    picker.replaceChildren(
      h("optgroup", { label: "Saved events" }, Saved.length ? Saved.map((e) => h("option", { value: `saved:${e.name}` }, e.name)) : h("option", { disabled: true }, "(none yet)")),
      h("optgroup", { label: "Templates" }, Templates.map((t) => h("option", { value: `template:${t.id}` }, t.title))),
    );
  };
  const choose = async () => {
    const [kind, key] = picker.value.split(/:(.*)/);
    if (kind === "saved") {
      const saved = Saved.find((e) => e.name === key);
      editor.value = pretty(JSON.parse(saved.event));
      eventName.value = saved.name;
    } else if (kind === "template") {
      editor.value = pretty((await api(`/templates/${key}`)).Event);
      eventName.value = key.slice(0, 25);
    }
  };
  fillPicker();
  picker.value = Saved.length ? `saved:${Saved[0].name}` : "template:hello-world";
  picker.addEventListener("change", choose);
  await choose();
  const save = async () => {
    try {
      ({ Saved } = await api(`${path}/events`, { method: "POST", body: { Name: eventName.value.trim(), Event: editor.value } }));
      fillPicker();
      picker.value = `saved:${eventName.value.trim()}`;
      result.replaceChildren(h("p.notice", `Saved test event ${eventName.value.trim()}.`));
    } catch (error) { result.replaceChildren(problem(error)); }
  };
  const remove = async () => {
    if (!picker.value.startsWith("saved:")) return;
    try {
      ({ Saved } = await api(`${path}/events/${encodeURIComponent(picker.value.slice(6))}`, { method: "DELETE" }));
      fillPicker();
      picker.value = "template:hello-world";
      await choose();
    } catch (error) { result.replaceChildren(problem(error)); }
  };
  const test = h("button.primary#test-invoke", { on: { click: async () => {
    test.disabled = true;
    result.replaceChildren(h("p.muted", "Invoking…"));
    try {
      const r = await api(`${path}/invoke`, { method: "POST", body: { Event: editor.value } });
      const failed = Boolean(r.FunctionError);
      result.replaceChildren(h("div.card",
        h("div.row", h("h3", failed ? "Execution result: failed" : "Execution result: succeeded"), badge(failed ? "Failed" : "Successful"),
          h("span.muted", `request ${r.RequestId} · version ${r.ExecutedVersion}`)),
        h("h3", "Response"), h("pre#test-response", prettyText(r.Payload)),
        h("h3", "Summary"), h("pre#test-report", r.Report || "(no REPORT line in the log's tail)"),
        h("h3", "Log output"), h("pre#test-log", r.LogTail || "(empty)"),
      ));
    } catch (error) { result.replaceChildren(problem(error)); }
    test.disabled = false;
  } } }, "Test");
  body.append(
    h("div.card",
      h("div.row", h("label", "Event ", picker), h("label", "Name ", eventName),
        h("button#save-event", { on: { click: save } }, "Save"), h("button", { on: { click: remove } }, "Delete saved"), test),
      editor),
    result,
  );
}

function prettyText(text) {
  try { return pretty(JSON.parse(text)); } catch { return text; }
}

// Queues, Kinesis streams, tables, event source mappings and APIs: lists, and a look
// inside that changes nothing (a queue peeked without receiving, a table's first page,
// a stream's oldest records).
import { api, badge, h, link, pretty, table, when } from "../common.js";

export async function show(main, page, [name]) {
  const views = { queues, streams, tables, mappings, apis };
  return views[page](main, name);
}

async function queues(main, name) {
  if (name) {
    const q = await api(`/queues/${encodeURIComponent(name)}`);
    main.append(h("h1", `Queue ${q.QueueName}`),
      h("p.muted", `${q.ApproximateNumberOfMessages} visible · ${q.ApproximateNumberOfMessagesNotVisible} in flight · ${q.ApproximateNumberOfMessagesDelayed} delayed · peeked without receiving (no receive counts or visibility change) · `, link("/queues", "all queues")),
      h("div.card#queue-messages", table([
        ["Message id", (m) => h("code", m.MessageId)], ["Sent", (m) => when(m.SentTimestamp)],
        ["Receives", (m) => m.ApproximateReceiveCount], ["State", (m) => badge(m.Visible ? "visible" : "in flight")],
        ["Body", (m) => h("pre", m.Body)],
      ], q.Messages, { empty: "The queue is empty." })),
      h("details.card", h("summary", "Attributes"), h("pre", pretty(q.Attributes))));
    return;
  }
  const { Queues } = await api("/queues");
  main.append(h("h1", "Queues"), h("div.card", table([
    ["Name", (q) => link(`/queues/${encodeURIComponent(q.QueueName)}`, q.QueueName)],
    ["Type", (q) => (q.QueueName.endsWith(".fifo") ? "FIFO" : "Standard")],
    ["Visible", (q) => q.ApproximateNumberOfMessages], ["In flight", (q) => q.ApproximateNumberOfMessagesNotVisible],
    ["Delayed", (q) => q.ApproximateNumberOfMessagesDelayed], ["Visibility timeout", (q) => `${q.Attributes.VisibilityTimeout} s`],
  ], Queues, { empty: "No queues." })));
}

async function streams(main, name) {
  if (name) {
    const st = await api(`/streams/${encodeURIComponent(name)}`);
    main.append(h("h1", `Stream ${st.StreamName}`), h("p.muted", `${st.StreamStatus} · the oldest records of each shard (from TRIM_HORIZON) · `, link("/streams", "all streams")),
      ...st.Shards.map((sh) => h("div.card", h("h3", `${sh.ShardId} `, badge(sh.Open ? "open" : "closed")), table([
        ["Sequence number", (r) => h("code", r.SequenceNumber)], ["Partition key", (r) => r.PartitionKey],
        ["Arrived", (r) => when(r.ApproximateArrivalTimestamp)], ["Data", (r) => h("pre", r.Text ?? `(base64) ${r.Data}`)],
      ], sh.Records, { empty: "No records kept in this shard." }))));
    return;
  }
  const { Streams } = await api("/streams");
  main.append(h("h1", "Kinesis streams"), h("div.card", table([
    ["Name", (x) => link(`/streams/${encodeURIComponent(x.StreamName)}`, x.StreamName)], ["Status", (x) => badge(x.StreamStatus)],
    ["Mode", (x) => x.StreamMode], ["Retention", (x) => `${x.RetentionPeriodHours} h`],
  ], Streams, { empty: "No streams." })));
}

async function tables(main, name) {
  if (name) {
    const t = await api(`/tables/${encodeURIComponent(name)}`);
    const keys = (t.Table.KeySchema || []).map((k) => `${k.AttributeName} (${k.KeyType})`).join(", ");
    main.append(h("h1", `Table ${name}`), h("p.muted", `${keys} · ${t.Table.ItemCount ?? "?"} items · first page of a Scan (Limit 25)${t.More ? ", more follow" : ""} · `, link("/tables", "all tables")),
      h("div.card#table-items", table([["Item", (item) => h("pre", pretty(item))]], t.Items, { empty: "The table is empty." })),
      h("details.card", h("summary", "Description"), h("pre", pretty(t.Table))));
    return;
  }
  const { Tables } = await api("/tables");
  main.append(h("h1", "Tables"), h("div.card", table([["Name", (x) => link(`/tables/${encodeURIComponent(x.TableName)}`, x.TableName)]], Tables, { empty: "No tables." })));
}

async function mappings(main) {
  const { Mappings } = await api("/mappings");
  main.append(h("h1", "Event source mappings"), h("div.card", table([
    ["UUID", (m) => h("code", m.UUID)], ["Source", (m) => m.EventSourceArn], ["Function", (m) => m.FunctionArn.split(":").slice(6).join(":")],
    ["State", (m) => badge(m.State)], ["Batch size", (m) => m.BatchSize], ["Last result", (m) => m.LastProcessingResult || "-"],
    ["Reason", (m) => m.StateTransitionReason || "-"],
  ], Mappings, { empty: "No event source mappings." })));
}

async function apis(main) {
  const { Apis } = await api("/apis");
  main.append(h("h1", "APIs"), h("div.card", table([
    ["Name", (a) => a.Name || "-"], ["Id", (a) => h("code", a.ApiId)], ["Protocol", (a) => a.Protocol],
    ["Endpoint", (a) => h("code", a.Endpoint)], ["Routes", (a) => (a.Routes || []).join(", ") || "-"], ["Stages", (a) => (a.Stages || []).join(", ") || "-"],
  ], Apis, { empty: "No HTTP, REST or WebSocket APIs." })));
}

"""The store's tables (SQLAlchemy Core). Changes to them are Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
#: Row ids: 64-bit on PostgreSQL, SQLite's rowid alias (INTEGER) there.
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

functions = sa.Table(
    "functions",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
)

log_streams = sa.Table(
    "log_streams",
    metadata,
    sa.Column("log_group", sa.String(512), primary_key=True),
    sa.Column("log_stream", sa.String(512), primary_key=True),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("first_event_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_event_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
)

log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("log_group", sa.String(512), nullable=False),
    sa.Column("log_stream", sa.String(512), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_log_events_group_time", "log_group", "timestamp", "id"),
    sa.Index("ix_log_events_stream", "log_group", "log_stream", "id"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("function_name", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
)

#: One row: counted up by every change to ``functions`` or ``aliases``, in the change's
#: transaction, so that nodes can tell cheaply when their cache of them is behind.
registry_generation = sa.Table(
    "registry_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
)

#: Each node's count of the running invocations of each function with reserved
#: concurrency (``counting_store.py``): the reservation is the sum over live nodes'.
concurrency_counts = sa.Table(
    "concurrency_counts",
    metadata,
    sa.Column("function", sa.String(64), primary_key=True),
    sa.Column("node_id", sa.String(36), primary_key=True),
    sa.Column("running", sa.Integer, nullable=False),
)

queues = sa.Table(
    "queues",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
    sa.Column("purged_ms", sa.BigInteger, nullable=True),
)

queue_messages = sa.Table(
    "queue_messages",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(80), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("message_attributes", sa.JSON, nullable=True),
    sa.Column("sent_ms", sa.BigInteger, nullable=False),
    sa.Column("visible_ms", sa.BigInteger, nullable=False),
    sa.Column("receive_count", sa.Integer, nullable=False),
    sa.Column("first_receive_ms", sa.BigInteger, nullable=True),
    #: The nonce of the newest receipt handle (NULL: never received since it was sent).
    sa.Column("receipt", sa.String(32), nullable=True),
    # Receives scan a queue in id order, skipping rows not yet visible.
    sa.Index("ix_queue_messages_queue", "queue", "id", "visible_ms"),
)

trace_segments = sa.Table(
    "trace_segments",
    metadata,
    sa.Column("trace_id", sa.String(35), primary_key=True),
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("parent_id", sa.String(16), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("subsegment", sa.Boolean, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
)

traces = sa.Table(
    "traces",
    metadata,
    sa.Column("trace_id", sa.String(35), primary_key=True),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("end_time", sa.Float, nullable=True),
    #: The trace's figures (flags, HTTP, services, edges), as the filter language reads them.
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("segment_count", sa.Integer, nullable=False),
    sa.Column("limit_exceeded", sa.Boolean, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_traces_start_time", "start_time"),
)

#: One row per annotation value of a trace: filters on annotations become index lookups.
trace_annotations = sa.Table(
    "trace_annotations",
    metadata,
    sa.Column("trace_id", sa.String(35), nullable=False),
    sa.Column("key", sa.String(500), nullable=False),
    sa.Column("string_value", sa.String(1000), nullable=True),
    sa.Column("number_value", sa.Float, nullable=True),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Index("ix_trace_annotations_string", "key", "string_value", "start_time"),
    sa.Index("ix_trace_annotations_number", "key", "number_value", "start_time"),
    sa.Index("ix_trace_annotations_trace", "trace_id"),
)

sampling_rules = sa.Table(
    "sampling_rules",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("rule", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("modified_at", sa.Float, nullable=False),
)

#: One row per layer name: the newest version number it has had (never reused, even
#: when every version is deleted).
layers = sa.Table(
    "layers",
    metadata,
    sa.Column("name", sa.String(140), primary_key=True),
    sa.Column("last_version", sa.BigInteger, nullable=False),
)

#: Published layer versions (a deleted one's row goes; the functions that use it keep
#: its code's digest in their own configuration).
layer_versions = sa.Table(
    "layer_versions",
    metadata,
    sa.Column("name", sa.String(140), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    #: Description, CreatedDate, CompatibleRuntimes and -Architectures, LicenseInfo,
    #: CodeSha256 and CodeSize.
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("unzipped_size", sa.BigInteger, nullable=False),
    #: The resource-based policy's statements (None: no policy) and its RevisionId.
    sa.Column("policy", sa.JSON, nullable=True),
    sa.Column("policy_revision", sa.String(36), nullable=True),
)

#: DynamoDB-style tables (``gureum.tables``): one row per table, its spec as CreateTable
#: and UpdateTable left it (keys, indexes, billing, stream, TTL, tags).
ddb_tables = sa.Table(
    "ddb_tables",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("table_id", sa.String(36), nullable=False, unique=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Items of every table and their index entries. A table's own rows have index '' and
#: pk b''; an index's rows carry the item's table key in pk (index keys repeat). Rows sort
#: as a Scan reads them: by shard (a hash of the partition key), partition key, sort key.
ddb_items = sa.Table(
    "ddb_items",
    metadata,
    sa.Column("table_id", sa.String(36), primary_key=True),
    sa.Column("index_name", sa.String(255), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("hash", sa.LargeBinary, primary_key=True),
    sa.Column("range", sa.LargeBinary, primary_key=True),
    sa.Column("pk", sa.LargeBinary, primary_key=True),
    sa.Column("item", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    #: The item's time to live (epoch seconds), on a table's own rows when TTL is on.
    sa.Column("expires", sa.BigInteger, nullable=True),
)
sa.Index("ix_ddb_items_expires", ddb_items.c.table_id, ddb_items.c.expires)

#: A table's streams (each StreamSpecification that turned one on): kept 24 hours after
#: they are turned off or their table is deleted, as DynamoDB keeps them.
ddb_streams = sa.Table(
    "ddb_streams",
    metadata,
    sa.Column("arn", sa.String(400), primary_key=True),
    sa.Column("table_name", sa.String(255), nullable=False),
    sa.Column("table_id", sa.String(36), nullable=False),
    sa.Column("view_type", sa.String(32), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("ended_ms", sa.BigInteger, nullable=True),
    #: The newest record's sequence number (a write takes the next under this row's lock).
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
    #: The table's key schema when the stream began (records outlive their table).
    sa.Column("key_schema", sa.JSON, nullable=False),
)

ddb_stream_records = sa.Table(
    "ddb_stream_records",
    metadata,
    sa.Column("stream_arn", sa.String(400), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)
#: Records are trimmed by age (24 hours), across streams.
sa.Index("ix_ddb_stream_records_created", ddb_stream_records.c.created_ms)

#: TransactWriteItems' ClientRequestTokens, for ten minutes: a repeat of the same request
#: succeeds without writing again, another request under the token is refused.
ddb_transaction_tokens = sa.Table(
    "ddb_transaction_tokens",
    metadata,
    sa.Column("token", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: The API gateway's APIs (``gureum.gateway``): one row per API, its configuration as
#: its service names the members (apigatewayv2's Name, ProtocolType, ...; apigateway's
#: name, description, ...). HTTP and REST APIs share the table: one id space.
gateway_apis = sa.Table(
    "gateway_apis",
    metadata,
    sa.Column("api_id", sa.String(16), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    #: ``apigatewayv2`` (HTTP and WebSocket APIs) or ``apigateway`` (REST APIs).
    sa.Column("service", sa.String(16), nullable=False, server_default="apigatewayv2"),
)

#: An API's parts: an HTTP API's routes, integrations, stages and deployments, a REST
#: API's resources (their methods within), stages and deployments, each under its id
#: (a stage under its name), its configuration as the API's service names its members.
gateway_parts = sa.Table(
    "gateway_parts",
    metadata,
    sa.Column("api_id", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("part_id", sa.String(128), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Lambda function URLs (``gureum.gateway.url_store``): one row per function and
#: qualifier (``$LATEST`` or an alias), its AuthType, Cors and InvokeMode in ``config``.
function_urls = sa.Table(
    "function_urls",
    metadata,
    sa.Column("function_name", sa.String(170), primary_key=True),
    sa.Column("qualifier", sa.String(128), primary_key=True),
    sa.Column("url_id", sa.String(32), nullable=False, unique=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
)

#: WebSocket APIs' open connections (``gureum.gateway.connection_store``): which node
#: holds each client's socket, and what ``GET @connections`` and ``$disconnect`` say of it.
websocket_connections = sa.Table(
    "websocket_connections",
    metadata,
    sa.Column("connection_id", sa.String(32), primary_key=True),
    sa.Column("api_id", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(128), nullable=False),
    sa.Column("node_id", sa.String(36), nullable=False, index=True),
    sa.Column("connected_ms", sa.BigInteger, nullable=False),
    sa.Column("source_ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(1024), nullable=True),
)

#: The gureum processes holding WebSocket connections: where each answers (its edge's
#: address, for requests about a connection that reach another node) and when it last
#: said it was alive (a node silent past a while is gone, and so are its connections).
edge_nodes = sa.Table(
    "edge_nodes",
    metadata,
    sa.Column("node_id", sa.String(36), primary_key=True),
    sa.Column("address", sa.String(256), nullable=False),
    sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),
)

#: Certificate authorities (``gureum.tls.authority_store``): one row, gureum's local CA,
#: created by whichever node starts first, so that every node serves certificates that
#: one trusted CA file verifies.
certificate_authorities = sa.Table(
    "certificate_authorities",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("certificate", sa.Text, nullable=False),
    sa.Column("private_key", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Event source mappings (``gureum.events.mappings``): a queue or stream read for a
#: function, its configuration as the Lambda API names its members, and its State.
event_source_mappings = sa.Table(
    "event_source_mappings",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("function_arn", sa.String(256), nullable=False),
    sa.Column("event_source_arn", sa.String(512), nullable=False, index=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.String(256), nullable=False),
    sa.Column("last_result", sa.String(256), nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
)

#: The Leasing Service's leases (``gureum.events.leasing``): which poller (node) reads
#: which source (a mapping) and shard, until when, and from where (its checkpoint).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("lease_key", sa.String(300), primary_key=True),
    sa.Column("source", sa.String(64), nullable=False, index=True),
    sa.Column("shard", sa.String(128), nullable=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=True),
    sa.Column("taken_ms", sa.BigInteger, nullable=False),
    # A stream shard's reader: the position before which records were handed to the
    # function (past the checkpoint after a crash: those come again, as duplicates),
    # the duplicates counted, the age of the last record done, and an open tumbling
    # window (its start and state, JSON), saved with the checkpoint.
    sa.Column("delivered", sa.BigInteger, nullable=True),
    sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("iterator_age_ms", sa.BigInteger, nullable=True),
    sa.Column("window", sa.Text, nullable=True),
)

#: Kinesis streams (``gureum.streams``): one row per stream, by name (Kinesis's streams
#: are named in an account and region).
kinesis_streams = sa.Table(
    "kinesis_streams",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    #: PROVISIONED or ON_DEMAND (StreamModeDetails)
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("retention_hours", sa.Integer, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    #: The index the next shard gets (children of a resharding take the next ones).
    sa.Column("next_shard_index", sa.Integer, nullable=False),
)

#: A stream's shards, open and closed (a closed one is kept for the retention period).
kinesis_shards = sa.Table(
    "kinesis_shards",
    metadata,
    sa.Column("stream_name", sa.String(128), primary_key=True),
    sa.Column("shard_index", sa.Integer, primary_key=True),
    sa.Column("parent_index", sa.Integer, nullable=True),
    sa.Column("adjacent_parent_index", sa.Integer, nullable=True),
    #: The HashKeyRange, as 39-digit decimal strings (which sort as the numbers do).
    sa.Column("hash_start", sa.String(39), nullable=False),
    sa.Column("hash_end", sa.String(39), nullable=False),
    #: The newest record's position (a write takes the next ones under this row's lock).
    sa.Column("last_position", sa.BigInteger, nullable=False),
    #: The newest record's arrival: arrivals never go back in a shard, whichever node's
    #: clock wrote them.
    sa.Column("last_arrival_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("closed_ms", sa.BigInteger, nullable=True),
    #: What was written in the second ``write_second`` (ms // 1000): records and bytes,
    #: against a shard's 1,000 records and 1 MiB a second.
    sa.Column("write_second", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("write_records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("write_bytes", sa.BigInteger, nullable=False, server_default="0"),
    #: GetRecords calls in the second ``read_second``, against 5 a second; and the time
    #: until which the bytes read so far are paid for at 2 MiB a second.
    sa.Column("read_second", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("read_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("read_paid_ms", sa.BigInteger, nullable=False, server_default="0"),
)

kinesis_records = sa.Table(
    "kinesis_records",
    metadata,
    sa.Column("stream_name", sa.String(128), primary_key=True),
    sa.Column("shard_index", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("partition_key", sa.String(256), nullable=False),
    #: The data as base64, as both the API and Lambda's events carry it.
    sa.Column("data", sa.Text, nullable=False),
    #: The data's size in bytes (GetRecords answers at most 10 MB).
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("arrival_ms", sa.BigInteger, nullable=False),
)
#: AT_TIMESTAMP finds a shard's first record at a time; trimming drops the old ones.
sa.Index(
    "ix_kinesis_records_arrival",
    kinesis_records.c.stream_name,
    kinesis_records.c.shard_index,
    kinesis_records.c.arrival_ms,
)

#: Metric data points, one row per node, metric, resolution and time bucket: each node
#: writes only its own rows (``node_id``) and reads add them up.
metric_data = sa.Table(
    "metric_data",
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("metric_name", sa.String(255), primary_key=True),
    #: The dimensions as canonical JSON (``[["FunctionName","f"], ...]``, sorted).
    sa.Column("dimensions", sa.Text, primary_key=True),
    #: Seconds per bucket: 1 (high resolution) or 60.
    sa.Column("resolution", sa.Integer, primary_key=True),
    #: The bucket's start, epoch seconds.
    sa.Column("timestamp", sa.BigInteger, primary_key=True),
    sa.Column("node_id", sa.String(36), primary_key=True),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("sample_count", sa.Float, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("minimum", sa.Float, nullable=False),
    sa.Column("maximum", sa.Float, nullable=False),
    #: The distribution's log buckets (``gureum.observe.distribution``), key -> count.
    sa.Column("histogram", sa.JSON, nullable=False),
)
#: The retention sweep drops old buckets of a resolution.
sa.Index("ix_metric_data_age", metric_data.c.resolution, metric_data.c.timestamp)

#: Which metrics exist (ListMetrics), and when each last had a data point.
metric_names = sa.Table(
    "metric_names",
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("metric_name", sa.String(255), primary_key=True),
    sa.Column("dimensions", sa.Text, primary_key=True),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
)

#: The console's saved test events (the Lambda console's "shareable" ones: every node
#: sees them), each a JSON document of at most 256 KB under a name unique per function.
console_test_events = sa.Table(
    "console_test_events",
    metadata,
    sa.Column("function_name", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(25), primary_key=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("modified_ms", sa.BigInteger, nullable=False),
)

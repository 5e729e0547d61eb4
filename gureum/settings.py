"""The one table of settings.

Every field here is a `gureum server` flag (``--sandbox-idle-timeout``), an environment
variable (``GUREUM_SANDBOX_IDLE_TIMEOUT``) and a row in ``docs/settings.md``; a test fails
when a field is missing from the docs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one gureum server."""

    model_config = SettingsConfigDict(env_prefix="GUREUM_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the edge HTTP server listens on.")
    port: int = Field(9070, ge=0, le=65535, description="Port of the edge (every AWS API).")
    tls_port: int | None = Field(
        None,
        ge=-1,
        le=65535,
        description="Port of the edge over HTTPS (the same APIs, with a certificate of "
        "gureum's local CA); default: --port + 1, or a free port with --port 0; 0: a free "
        "port; -1: no HTTPS.",
    )
    processes: int = Field(
        1,
        ge=0,
        le=64,
        description="Server processes behind the edge's ports (each a node on the one store, "
        "the ports shared with SO_REUSEPORT), so that the edge uses more than one core; 0: "
        "one per core.",
    )
    reuse_port: bool = Field(
        False,
        description="Listen on the edge's, the HTTPS edge's and the X-Ray daemon's ports with "
        "SO_REUSEPORT, beside other gureum processes on them (--processes sets it for each of "
        "its processes); the node's edge then also listens on a port of its own, where other "
        "nodes reach it.",
    )
    node_address: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="URL at which other nodes reach this node's edge (they forward it the "
        "@connections requests of the WebSocket clients it holds); default: the edge's own "
        "address (127.0.0.1 for a host of 0.0.0.0). With --reuse-port, the node's own port "
        "on that URL's host.",
    )
    data_dir: Path = Field(
        Path(".gureum"), description="Directory for the SQLite store, code and sandboxes."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store; default: SQLite (WAL) in the data directory. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    region: str = Field("us-east-1", description="Region named in ARNs and given to functions.")
    account_id: str = Field(
        "000000000000", pattern=r"^\d{12}$", description="Account id named in ARNs."
    )
    access_key_id: str = Field(
        "test",
        description="Access key id the edge accepts (SigV4) and hands to functions "
        "(AWS_ACCESS_KEY_ID).",
    )
    secret_access_key: str = Field(
        "test",
        description="Secret key of that access key id, also handed to functions "
        "(AWS_SECRET_ACCESS_KEY).",
    )
    auth: Literal["sigv4", "none"] = Field(
        "sigv4",
        description="Request authentication at the edge: AWS Signature V4 with the access "
        "key above, or none.",
    )
    sandbox_idle_timeout: float = Field(
        300.0, gt=0, description="Seconds an idle sandbox is kept warm before it is reaped."
    )
    init_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a sandbox's init (cold start) may take, as on Lambda; an init "
        "past it is run again inside the invoke, under the function's own timeout "
        "(Lambda's suppressed init).",
    )
    shutdown_timeout: float = Field(
        30.0, ge=0, description="Seconds a stopping server waits for in-flight invokes."
    )
    log_tail_bytes: int = Field(
        4096, gt=0, description="Bytes of log returned with LogType=Tail (Lambda: 4 KB)."
    )
    sandbox_log_limit: int = Field(
        1024 * 1024,
        gt=0,
        description="Bytes of log one invoke may keep; beyond this the log says it truncated.",
    )
    isolation: Literal["auto", "namespaces", "rlimits"] = Field(
        "auto",
        description="Sandbox isolation: namespaces and cgroups (needs root), rlimits only, "
        "or auto (namespaces where possible; says at start-up what is off).",
    )
    cold_start: Literal["zygote", "exec"] = Field(
        "zygote",
        description="How an isolated sandbox starts: forked from a zygote (a fork server per "
        "interpreter) or a new jail process each time.",
    )
    zygote_prepared: int = Field(
        4,
        ge=0,
        le=256,
        description="Children each zygote keeps forked ahead of need, already in cgroups.",
    )
    node_started: int = Field(
        2,
        ge=0,
        le=64,
        description="Node.js runtimes kept started ahead of need for each Node.js version "
        "in use (a zygote cannot fork Node, so a cold start takes one that has booted and "
        "waits for its sandbox, as Lambda's pre-warmed pools do); 0: a new one each time.",
    )
    sandbox_uid_base: int = Field(
        200000, ge=1000, description="First uid of the unprivileged users sandboxes run as."
    )
    account_concurrency: int = Field(
        1000, ge=1, description="Invocations the account may run at once (Lambda's default)."
    )
    unreserved_concurrency_minimum: int = Field(
        100,
        ge=0,
        description="Concurrency reservations must leave at least this much unreserved.",
    )
    placement: Literal["measured", "nominal"] = Field(
        "measured",
        description="How a new sandbox is admitted on this host: `measured` (by the memory "
        "the host has available, keeping 5% of it (at least 512 MB) free; an idle sandbox "
        "uses a few MB of its MemorySize, and its cgroup still caps it at MemorySize), or "
        "`nominal` (the MemorySize of every live sandbox counted against "
        "--sandbox-memory-budget). Idle sandboxes are evicted (least recently used first) "
        "to make room and under memory pressure; beyond that, invokes are throttled (429).",
    )
    sandbox_memory_budget: int | None = Field(
        None,
        ge=128,
        description="With --placement nominal: MB of MemorySize that live sandboxes may "
        "add up to on this host; default: 80% of its memory.",
    )
    retry_delays: str = Field(
        "60,120",
        pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
        description="Seconds an asynchronous event waits before its first and second retry "
        "after a function error (Lambda: about 1 and 2 minutes), comma-separated.",
    )
    async_concurrency: int = Field(
        100,
        ge=1,
        description="Asynchronous events this node runs at once (each takes a sandbox and a "
        "slot of the account's concurrency).",
    )
    xray_address: str = Field(
        "127.0.0.1:2000",
        pattern=r"^\S+:\d{1,5}$",
        description="HOST:PORT of the X-Ray daemon (UDP segments, TCP sampling calls); "
        "functions get it as AWS_XRAY_DAEMON_ADDRESS. Port 0: a free one.",
    )
    trace_max_bytes: int = Field(
        500 * 1024,
        ge=1024,
        description="Bytes of segment documents one trace keeps (X-Ray: 500 KB); beyond "
        "them segments are dropped and the trace is marked LimitExceeded.",
    )
    trace_retention_days: float = Field(
        30.0, gt=0, description="Days a trace is kept after it started (X-Ray: 30)."
    )
    table_expiry_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between sweeps that delete the tables' expired items (time to "
        "live; each a REMOVE stream record by DynamoDB's service) and stream records older "
        "than 24 hours.",
    )
    stream_throughput: Literal["kinesis", "unlimited"] = Field(
        "kinesis",
        description="Per-shard limits of the Kinesis streams: `kinesis` (1,000 records and "
        "1 MiB a second written, 5 GetRecords calls and 2 MiB a second read, beyond which "
        "ProvisionedThroughputExceededException), or `unlimited`.",
    )
    websocket_idle_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds a WebSocket API's connection may pass without a message either "
        "way before it is closed (1001; API Gateway: 10 minutes).",
    )
    websocket_max_lifetime: float = Field(
        7200.0,
        gt=0,
        description="Seconds a WebSocket API's connection may last (API Gateway: 2 hours).",
    )
    log_level: str = Field("info", description="Level of the server's own log.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gureum.db').resolve()}"

    @property
    def resolved_tls_port(self) -> int | None:
        """The port the HTTPS edge is to listen on (0: a free one); None: no HTTPS."""
        if self.tls_port is None:
            return self.port + 1 if 0 < self.port < 65535 else 0
        return None if self.tls_port < 0 else self.tls_port

    @property
    def retry_delay_seconds(self) -> list[float]:
        return [float(part) for part in self.retry_delays.split(",")]

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

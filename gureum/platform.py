"""The platform: the composition root of one gureum node.

It builds every component (at construction, without I/O), starts them in order and
stops them in reverse, and hands each API only what it uses: the Lambda API gets the
registry and Front End Invoke, the layer operations the layer registry, SQS the
queues, Logs the log store, X-Ray the trace store. It also wires the control plane: the
registry's change notifications reach the Worker Manager (new sandboxes for a new
revision, provisioned concurrency) and the Counting Service (reservations). No
component holds the platform.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys

import uvicorn
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from gureum import runtimes
from gureum.counting import CountingService
from gureum.counting_store import SharedReservations
from gureum.events.async_events import ASYNC_QUEUE, AsyncEventQueue
from gureum.events.async_invoke import AsyncInvoker
from gureum.events.leasing import LeasingService
from gureum.events.mappings import EventSourceMappings
from gureum.events.pacing import FrontEndActivity
from gureum.events.queue_pollers import Pollers
from gureum.front_end_invoke import FrontEndInvoke
from gureum.frontend.aws_query import QueryEndpoint
from gureum.frontend.cloudwatch_api import CloudWatchAPI
from gureum.frontend.dynamodb_api import DynamoDBAPI
from gureum.frontend.dynamodb_streams_api import DynamoDBStreamsAPI
from gureum.frontend.json_rpc import JsonRpcEndpoint
from gureum.frontend.kinesis_api import KinesisAPI
from gureum.frontend.lambda_api import LambdaAPI
from gureum.frontend.layers_api import LayersAPI
from gureum.frontend.logs_api import LogsAPI
from gureum.frontend.mappings_api import EventSourceMappingsAPI
from gureum.frontend.rpc_v2_cbor import RpcV2Endpoint
from gureum.frontend.sqs_api import SqsAPI
from gureum.frontend.xray_api import XRayAPI
from gureum.functions.code import CodeStore
from gureum.functions.layers import LayerRegistry
from gureum.functions.registry import Change, FunctionChange, FunctionRegistry
from gureum.gateway.connection_store import ConnectionStore
from gureum.gateway.connections_api import ConnectionsAPI
from gureum.gateway.function_urls import FunctionUrls
from gureum.gateway.gateway_segments import StageTracer
from gureum.gateway.gateway_store import GatewayStore
from gureum.gateway.http_api import HttpApis
from gureum.gateway.management_api import ManagementAPI
from gureum.gateway.rest_api import RestApis
from gureum.gateway.rest_management import RestManagementAPI
from gureum.gateway.siblings import Siblings, SiblingServer
from gureum.gateway.url_api import FunctionUrlAPI
from gureum.gateway.url_store import UrlStore
from gureum.gateway.websocket_api import WebSocketApis
from gureum.ids import new_uuid
from gureum.observe.lambda_metrics import LambdaMetrics
from gureum.observe.log_store import LogStore
from gureum.observe.logs import LogSink
from gureum.observe.metric_store import MetricStore
from gureum.observe.metrics import Metrics
from gureum.observe.prometheus import NodeCollector, PrometheusEndpoint
from gureum.observe.queue_metrics import SAMPLER_LEASE_SECONDS, QueueMetrics
from gureum.queues.queues import Queues
from gureum.runtimes import BOOTSTRAP, python_interpreter, sdk_packages, sdk_path
from gureum.settings import Settings
from gureum.store import Store
from gureum.streams.stream_store import StreamStore, StreamTrimmer
from gureum.tables.expiry import TableExpiry
from gureum.tables.streams import Streams
from gureum.tables.table_store import Tables
from gureum.tls.authority_store import local_authority
from gureum.tls.edge import TlsEdge, TrustFiles
from gureum.tracing.daemon import XRayDaemon, parse_address, serve_tcp
from gureum.tracing.sampling import Sampler, SamplingRules
from gureum.tracing.trace_store import TraceStore
from gureum.workers import isolation, placement
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.manager import WorkerManager
from gureum.workers.sandbox_process import node_prestart
from gureum.workers.zygote import Zygotes

logger = logging.getLogger(__name__)

#: Seconds between collections of function code that nothing names any more.
CODE_COLLECTION_INTERVAL = 600.0
#: Functions the registry lists at once at start-up (every one of them).
EVERY_FUNCTION = 1_000_000


class Platform:
    """Every component of one node, and the APIs the edge serves over them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data_dir = settings.data_dir.resolve()
        region, account = settings.region, settings.account_id
        self.store = Store(settings.resolved_database_url)
        self.code = CodeStore(data_dir / "code")
        self.counting = CountingService(
            settings.account_concurrency, settings.unreserved_concurrency_minimum
        )
        self.layers = LayerRegistry(self.store, self.code, region=region, account_id=account)
        self.functions = FunctionRegistry(
            self.store,
            self.code,
            region=region,
            account_id=account,
            limits=self.counting.limits,
            check_runtime=functools.partial(runtimes.check_available, data_dir=data_dir),
            layers=self.layers,
        )
        self.log_store = LogStore(self.store)
        self.logs = LogSink(self.log_store)
        self.queues = Queues(self.store)
        self.tables = Tables(self.store, region=region, account_id=account)
        self.gateway = GatewayStore(self.store)
        self.streams = Streams(self.store)
        self.table_expiry = TableExpiry(
            self.tables, self.streams, interval=settings.table_expiry_interval
        )
        #: Kinesis streams (the tables' streams are ``self.streams``)
        self.kinesis = StreamStore(
            self.store,
            region=region,
            account_id=account,
            limited=settings.stream_throughput == "kinesis",
        )
        self.kinesis_trimmer = StreamTrimmer(self.kinesis)
        self.traces = TraceStore(
            self.store,
            max_trace_bytes=settings.trace_max_bytes,
            retention_days=settings.trace_retention_days,
        )
        self.sampler = Sampler()
        self.sampling_rules = SamplingRules(
            self.store, self.sampler, region=region, account_id=account
        )
        where: placement.Placement
        if settings.placement == "nominal":
            budget = settings.sandbox_memory_budget or int(placement.host_memory_mb() * 0.8)
            where = placement.LocalPlacement(budget)
        else:
            where = placement.MeasuredPlacement()
        # Its sandbox environment depends on what the host gives: known at start.
        self.workers = WorkerManager(
            None,
            self.code,
            self.logs,
            idle_timeout=settings.sandbox_idle_timeout,
            placement=where,
        )
        #: this process among the nodes (its metric rows, its WebSocket connections)
        self.node_id = new_uuid()
        #: CloudWatch's metrics: recorded in memory, flushed in batches (observe/metrics.py)
        self.metrics = Metrics(MetricStore(self.store, self.node_id))
        self.lambda_metrics = LambdaMetrics(
            self.metrics, self.counting, provisioned=self._provisioned_allocations
        )
        self.queue_metrics = QueueMetrics(
            self.metrics,
            self.queues,
            LeasingService(self.store, self.node_id, lease_seconds=SAMPLER_LEASE_SECONDS),
        )
        self.queues.metrics = self.queue_metrics
        self.logs.metrics = self.metrics
        self.metrics.sources += [self.lambda_metrics.sample, self.queue_metrics.sample]
        self.events = AsyncEventQueue(self.queues)
        self.invoke = FrontEndInvoke(
            functions=self.functions,
            counting=self.counting,
            workers=self.workers,
            events=self.events,
            sampler=self.sampler,
            traces=self.traces,
            region=region,
            account_id=account,
            metrics=self.lambda_metrics,
            # Other nodes may share the store: reservations are counted with them.
            shared=(
                SharedReservations(self.store, self.node_id)
                if settings.reuse_port or self.store.dialect != "sqlite"
                else None
            ),
        )
        #: Requests the edge has taken (the async poller gives way while it is busy).
        self.front_end_activity = FrontEndActivity()
        self.async_invoker = AsyncInvoker(
            events=self.events,
            queues=self.queues,
            functions=self.functions,
            counting=self.counting,
            invoke=self.invoke,
            logs=self.logs,
            front_end_requests=self.front_end_activity,
            region=region,
            account_id=account,
            retry_delays=settings.retry_delay_seconds,
            concurrency=settings.async_concurrency,
            # One node on SQLite: events claimed before a crash have nobody running them.
            # (Not so for the processes of --processes: another may be running them.)
            release_on_start=self.store.dialect == "sqlite" and not settings.reuse_port,
        )
        keys = {settings.access_key_id: settings.secret_access_key}
        self.websocket_apis = WebSocketApis(
            self.gateway,
            ConnectionStore(
                self.store, self.node_id, settings.node_address or settings.endpoint_url
            ),
            self.invoke,
            account_id=account,
            domain_of=self.api_domain,
            idle_seconds=settings.websocket_idle_timeout,
            lifetime_seconds=settings.websocket_max_lifetime,
        )
        # Processes sharing the port share the data directory: their links are in it.
        nodes_dir = data_dir / "nodes"
        self.connections_api = ConnectionsAPI(
            self.websocket_apis,
            secrets=keys if settings.auth == "sigv4" else None,
            region=region,
            siblings=Siblings(nodes_dir) if settings.reuse_port else None,
        )
        self.sibling_server = (
            SiblingServer(nodes_dir, self.node_id, self.connections_api.answer_here)
            if settings.reuse_port
            else None
        )
        self.rest_apis = RestApis(
            self.invoke,
            region=region,
            account_id=account,
            secrets=keys if settings.auth == "sigv4" else None,
            tracer=StageTracer(self.sampler, self.traces, region=region, account_id=account),
        )
        self.http_apis = HttpApis(
            self.gateway, self.invoke, region=region, account_id=account, rest=self.rest_apis
        )
        self.urls = UrlStore(self.store)
        self.function_urls = FunctionUrls(
            self.urls,
            self.invoke,
            region=region,
            account_id=account,
            secrets=keys if settings.auth == "sigv4" else None,
        )
        self.function_url_api = FunctionUrlAPI(
            self.urls, self.functions, region=region, account_id=account
        )
        self.lambda_api = LambdaAPI(
            functions=self.functions,
            invoke=self.invoke,
            provisioned=self.workers,
            region=region,
            account_id=account,
        )
        self.layers_api = LayersAPI(self.layers)
        self.mappings = EventSourceMappings(self.store)
        #: the seed's Leasing Service, with this node as the owner of its pollers' leases
        self.leasing = LeasingService(self.store, self.node_id)
        self.pollers = Pollers(
            self.mappings,
            self.leasing,
            self.queues,
            self.invoke,
            self.functions,
            kinesis=self.kinesis,
            table_streams=self.streams,
            region=region,
            account_id=account,
        )
        self.mappings_api = EventSourceMappingsAPI(
            self.mappings,
            self.functions,
            self.queues,
            self.leasing,
            self.pollers,
            region=region,
            account_id=account,
        )
        self.gateway_api = ManagementAPI(self.gateway, region=region, account_id=account)
        self.rest_api_management = RestManagementAPI(
            self.gateway, region=region, account_id=account
        )
        self.xray_api = XRayAPI(self.traces, self.sampling_rules, account_id=account)
        self.cloudwatch_api = CloudWatchAPI(self.metrics)
        #: Smithy RPC v2 CBOR services (CloudWatch's metrics, for SDKs that speak it)
        self.rpc_v2 = RpcV2Endpoint([self.cloudwatch_api.rpc_v2_service()])
        #: AWS's query protocol (form in, XML out): CloudWatch, as the AWS CLI v1 calls it
        self.aws_query = QueryEndpoint(self.cloudwatch_api.query_service())
        self.prometheus = PrometheusEndpoint(
            NodeCollector(
                self.lambda_metrics,
                self.metrics,
                self.counting,
                self.workers,
                self.queue_metrics,
                zygotes=lambda: len(self.zygotes) if self.zygotes is not None else 0,
                async_queue=ASYNC_QUEUE,
                node_id=self.node_id,
            )
        )
        self.json_rpc = JsonRpcEndpoint(
            [
                self.cloudwatch_api.json_service(),
                SqsAPI(self.queues, region=region, account_id=account).service(),
                LogsAPI(self.log_store, region=region, account_id=account).service(),
                DynamoDBAPI(self.tables, region=region, account_id=account).service(),
                DynamoDBStreamsAPI(self.streams).service(),
                KinesisAPI(self.kinesis).service(),
            ]
        )
        self.xray_daemon = XRayDaemon(self.traces)
        self.xray_address: str | None = None
        self.tls_edge = TlsEdge(data_dir / "tls", shared=settings.reuse_port)
        #: What clients and sandboxes trust the HTTPS edge by (None: no HTTPS).
        self.tls_files: TrustFiles | None = None
        #: HOST:PORT the HTTPS edge listens on, once it does.
        self.tls_address: str | None = None
        self.zygotes: Zygotes | None = None
        #: What the host gives sandboxes (namespaces and cgroups, or rlimits only), once
        #: started.
        self.isolation: isolation.Isolation | None = None
        self._daemon_tcp: uvicorn.Server | None = None
        self._code_collector: asyncio.Task[None] | None = None
        #: the tasks that take in other nodes' changes of what this node caches
        self._followers: list[asyncio.Task[None]] = []
        self._warming: set[asyncio.Task[None]] = set()

    def _provisioned_allocations(self) -> dict[tuple[str, str], int]:
        """(function, qualifier) -> provisioned concurrency ready now (Lambda's
        "allocated"), for the provisioned concurrency metrics."""
        return {
            (target.name, qualifier): self.workers.provisioned_ready(target.name, target.version)
            for target, qualifier, _ in self.functions.provisioned_concurrency()
        }

    def api_domain(self, api_id: str) -> str:
        """An API's domain name in its events (``requestContext.domainName``): its host-style
        name on the HTTPS edge, so that ``https://{domainName}/{stage}`` (the SDKs' default
        scheme) reaches it from a sandbox; on the HTTP edge when HTTPS is off."""
        name = f"{api_id}.execute-api"
        return self.tls_host(name) or f"{name}.localhost:{self.settings.port}"

    def routes(self) -> list[BaseRoute]:
        """Every API's routes, as the edge serves them."""
        return [
            *self.lambda_api.routes(),
            *self.mappings_api.routes(),
            *self.function_url_api.routes(),
            *self.layers_api.routes(),
            *self.gateway_api.routes(),
            *self.rest_api_management.routes(),
            *self.xray_api.routes(),
            *self.json_rpc.routes(),
            *self.prometheus.routes(),
        ]

    # starting and stopping
    async def start(self) -> None:
        #: The loop the node runs on (for code on other threads that must reach it).
        self.loop = asyncio.get_running_loop()
        settings = self.settings
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.store.migrate)
        if settings.resolved_tls_port is not None:
            authority = await self.store.run(local_authority, self.store)
            self.tls_files = await asyncio.to_thread(
                self.tls_edge.prepare, authority, settings.host
            )
        await self.functions.load()
        self.counting.load(self.functions.reservations())
        detected = await asyncio.to_thread(
            isolation.detect, settings.isolation, data_dir, settings.sandbox_uid_base
        )
        self.isolation = detected
        for line in detected.report():
            logger.info("%s", line) if detected.isolated else logger.warning("%s", line)
        self.logs.start()
        self.traces.start()
        self.metrics.start()
        await self.sampling_rules.load()
        await self._start_xray_daemon()
        if detected.isolated and settings.cold_start == "zygote":
            self.zygotes = Zygotes(
                detected.cgroup_support,
                detected.sandboxes_dir,
                BOOTSTRAP,
                sdk_packages(),
                prepared=settings.zygote_prepared,
                next_uid=detected.next_uid,
            )
        await asyncio.to_thread(runtimes.node_runtime_path, data_dir)
        self.workers.start(
            SandboxEnvironment(
                region=settings.region,
                account_id=settings.account_id,
                access_key_id=settings.access_key_id,
                secret_access_key=settings.secret_access_key,
                endpoint_url=settings.endpoint_url,
                sdk_dir=await asyncio.to_thread(sdk_path, data_dir),
                # (the Node runtime's files beside it: data_dir/runtime/nodejs)
                init_timeout=settings.init_timeout,
                log_tail_bytes=settings.log_tail_bytes,
                log_limit_bytes=settings.sandbox_log_limit,
                isolation=detected,
                sdk_packages=sdk_packages(),
                zygotes=self.zygotes,
                xray_address=self.xray_address,
                started_runtimes=settings.node_started,
                trust=self.tls_files,
            )
        )
        # Nothing runs yet: code that no version names is garbage, however new (unless
        # other processes share the data directory: one may be storing a function now).
        removed = await self._collect_code(
            older_than=CODE_COLLECTION_INTERVAL if settings.reuse_port else 0
        )
        if removed:
            logger.info("removed %d zips and trees of code no function names any more", removed)
        self._code_collector = asyncio.create_task(
            self._collect_code_forever(), name="gureum-code-collector"
        )
        await self.async_invoker.start()
        await self.websocket_apis.start()
        if self.invoke.shared is not None:
            await self.invoke.shared.sweep()
        if self.sibling_server is not None:
            try:
                await self.sibling_server.start()
            except OSError as exc:
                logger.warning("no Unix socket for sibling nodes (%s): they forward by HTTP", exc)
                self.sibling_server = None
        self.pollers.start()
        self.table_expiry.start()
        self.kinesis_trimmer.start()
        for target, _, requested in self.functions.provisioned_concurrency():
            self.workers.provision(target, requested)
        self.functions.on_change(self._apply_change)
        self._followers = [
            asyncio.create_task(self.functions.follow(), name="gureum-registry-follower"),
            asyncio.create_task(self.sampling_rules.follow(), name="gureum-sampling-follower"),
        ]
        if self.zygotes is not None:
            for runtime, memory_mb in {
                (c["Runtime"], c["MemorySize"])
                for c in self.functions.list_page(None, EVERY_FUNCTION)[0]
            }:
                self._warm(runtime, memory_mb)

    async def serve_tls(self, app: ASGIApp) -> None:
        """Serve ``app`` (the edge) over HTTPS too, unless that is off; an address that
        is taken is said, and the node runs without it."""
        port = self.settings.resolved_tls_port
        if port is None or self.tls_files is None:
            return
        host = self.settings.host
        try:
            bound = await self.tls_edge.serve(
                app,
                host,
                port,
                shutdown_timeout=self.settings.shutdown_timeout,
                reuse_port=self.settings.reuse_port,
            )
        except OSError as exc:
            logger.warning(
                "no HTTPS edge: cannot listen on %s:%s (%s); set --tls-port", host, port, exc
            )
            return
        self.tls_address = f"{host}:{bound}"

    @property
    def tls_port(self) -> int | None:
        """The port of the HTTPS edge; None while it does not listen."""
        return None if self.tls_address is None else int(self.tls_address.rpartition(":")[2])

    def tls_host(self, subdomain: str = "") -> str | None:
        """``HOST:PORT`` of the HTTPS edge under a loopback name its certificate covers:
        ``localhost:PORT``, or ``{subdomain}.localhost:PORT`` (``tls_host("abc.execute-api")``
        is API Gateway's ``domainName`` for API ``abc``); None without HTTPS. Sandboxes
        resolve every ``*.localhost`` name to 127.0.0.1 (``docs/tls.md``)."""
        port = self.tls_port
        if port is None:
            return None
        return f"{subdomain}.localhost:{port}" if subdomain else f"localhost:{port}"

    async def _start_xray_daemon(self) -> None:
        """The daemon on UDP, and the SDKs' sampling calls on TCP of the same port."""
        host, port = parse_address(self.settings.xray_address)
        # Port 0: a free UDP port, whose TCP twin may be taken; then another one.
        problem: OSError | None = None
        for _ in range(1 if port else 5):
            try:
                shared = self.settings.reuse_port
                bound_host, bound_port = await self.xray_daemon.start(host, port, reuse_port=shared)
                app = self.xray_api.daemon_app()
                self._daemon_tcp = await serve_tcp(app, bound_host, bound_port, reuse_port=shared)
                self.xray_address = f"{bound_host}:{bound_port}"
                return
            except OSError as exc:
                self.xray_daemon.close()
                problem = exc
        logger.warning(
            "no X-Ray daemon: cannot listen on %s (%s); set --xray-address",
            self.settings.xray_address,
            problem,
        )

    async def stop(self) -> None:
        """Drain in-flight invokes, stop every sandbox, flush logs, close the store."""
        await self.tls_edge.close()
        for task in (self._code_collector, *self._followers):
            if task is not None:
                task.cancel()
        # (uvicorn has closed the sockets and let their $disconnect run; any left now)
        await self.websocket_apis.stop(self.settings.shutdown_timeout)
        if self.sibling_server is not None:
            await self.sibling_server.close()
        await self.connections_api.close()
        await self.pollers.stop()
        await self.async_invoker.stop(self.settings.shutdown_timeout)
        await self.workers.shutdown(self.settings.shutdown_timeout)
        if self.zygotes is not None:
            await self.zygotes.close()
        if self.isolation is not None:
            self.isolation.release()
        self.xray_daemon.close()
        if self._daemon_tcp is not None:
            await self._daemon_tcp.shutdown()  # (its socket is closed with it)
        await self.traces.close()
        await self.logs.close()
        await self.metrics.close()
        await self.table_expiry.stop()
        await self.kinesis_trimmer.stop()
        self.tables.close()
        await asyncio.to_thread(self.store.close)

    # the control plane: what a stored change means for the other components
    def _apply_change(self, change: FunctionChange) -> None:
        name, kind = change.name, change.kind
        if kind in (Change.REVISION, Change.NETWORK, Change.VERSION_DELETED, Change.DELETED):
            self.workers.retire(name)
        if kind is Change.DELETED:
            self.counting.reserve(name, None)
        elif kind is Change.RESERVED_CONCURRENCY:
            self.counting.reserve(name, self.functions.reserved_concurrency(name))
        elif kind is Change.PROVISIONED:
            qualifier = str(change.qualifier)
            target = self.functions.provisioning_target(name, qualifier)
            wanted = self.functions.provisioned_configs(name).get(qualifier)
            self.workers.provision(target, int(wanted["Requested"]) if wanted else None)
        if kind in (Change.CREATED, Change.REVISION) and self.zygotes is not None:
            function = self.functions.get(name)
            self._warm(function.runtime, function.memory_size)

    def _warm(self, runtime: str, memory_mb: int) -> None:
        """Start the zygote of a runtime before its first cold start needs it."""

        async def warm() -> None:
            try:
                if runtime.startswith("python"):
                    interpreter = await asyncio.to_thread(python_interpreter, runtime)
                else:
                    interpreter = sys.executable
                assert self.zygotes is not None
                zygote = await self.zygotes.get(interpreter)
                if runtime in runtimes.NODEJS_RUNTIMES:
                    # Node cannot be forked: a few started ahead of the first cold start.
                    prestart = node_prestart(runtime, memory_mb, self.workers.env)
                    zygote.keep_started(prestart, self.settings.node_started)
            except Exception as exc:  # the cold start will say what is wrong
                logger.debug("no zygote for %s yet: %s", runtime, exc)

        task = asyncio.create_task(warm())
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    async def _collect_code(self, *, older_than: float) -> int:
        """Remove the code that no function version and no layer version names, and the
        merged ``/opt`` of layer combinations no function version uses."""
        referenced = self.functions.code_digests() | await self.layers.code_digests()
        return await self.workers.collect_code(
            referenced, older_than=older_than, combinations=self.functions.layer_combinations()
        )

    async def _collect_code_forever(self) -> None:
        """Every ``CODE_COLLECTION_INTERVAL``, remove the code that updates and deletes
        left unnamed (sparing anything stored within the interval: an upload whose
        function row is still being written)."""
        while True:
            await asyncio.sleep(CODE_COLLECTION_INTERVAL)
            try:
                await self._collect_code(older_than=CODE_COLLECTION_INTERVAL)
            except Exception:
                logger.exception("collecting unused function code failed")

"""The platform: every component of one gureum node, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import uvicorn

from gureum.counting import CountingService
from gureum.events.async_invoke import AsyncInvoker
from gureum.functions.code import CodeStore
from gureum.functions.config import FunctionVersion, function_arn
from gureum.functions.registry import FunctionRegistry
from gureum.observe.logs import LogSink
from gureum.queues.queues import Queues
from gureum.runtimes import BOOTSTRAP, python_interpreter, sdk_packages, sdk_path
from gureum.settings import Settings
from gureum.store import Store, open_store
from gureum.tracing.daemon import XRayDaemon, parse_address, serve_tcp
from gureum.tracing.lambda_segments import InvocationTrace
from gureum.tracing.sampling import Sampler, SamplingRules
from gureum.tracing.segments import from_document
from gureum.tracing.trace_store import TraceStore
from gureum.workers import isolation, placement
from gureum.workers.manager import WorkerManager
from gureum.workers.runtime_api import Invocation
from gureum.workers.sandbox import InvokeOutcome, SandboxEnvironment
from gureum.workers.zygote import Zygotes

logger = logging.getLogger(__name__)

#: Seconds between collections of function code that nothing names any more.
CODE_COLLECTION_INTERVAL = 600.0


class Platform:
    """Store, code, registry, queues, logs and the Worker Manager of one node."""

    store: Store
    code: CodeStore
    functions: FunctionRegistry
    counting: CountingService
    logs: LogSink
    workers: WorkerManager
    queues: Queues
    async_invoker: AsyncInvoker
    traces: TraceStore
    sampler: Sampler
    sampling_rules: SamplingRules
    xray_daemon: XRayDaemon
    loop: asyncio.AbstractEventLoop
    isolation: isolation.Isolation
    zygotes: Zygotes | None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: What the X-Ray daemon's TCP port serves (set by the edge app).
        self.daemon_app: Any = None
        #: Requests the edge has received (the async poller gives way while it is busy).
        self.front_end_requests = 0

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        settings = self.settings
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = await asyncio.to_thread(open_store, settings.resolved_database_url)
        self.code = CodeStore(data_dir / "code")
        self.functions = FunctionRegistry(
            self.store, self.code, region=settings.region, account_id=settings.account_id
        )
        await self.functions.load()
        self.queues = Queues(self.store)
        self.counting = CountingService(
            settings.account_concurrency, settings.unreserved_concurrency_minimum
        )
        self.counting.reservations.update(self.functions.reservations())
        self.isolation = await asyncio.to_thread(
            isolation.detect, settings.isolation, data_dir, settings.sandbox_uid_base
        )
        for line in self.isolation.report():
            logger.info("%s", line) if self.isolation.isolated else logger.warning("%s", line)
        self.logs = LogSink(self.store)
        self.logs.start()
        self.traces = TraceStore(
            self.store,
            max_trace_bytes=settings.trace_max_bytes,
            retention_days=settings.trace_retention_days,
        )
        self.traces.start()
        self.sampler = Sampler()
        self.sampling_rules = SamplingRules(
            self.store, self.sampler, region=settings.region, account_id=settings.account_id
        )
        await self.sampling_rules.load()
        self.xray_daemon = XRayDaemon(self.traces)
        self.xray_address: str | None = None
        self._daemon_tcp: uvicorn.Server | None = None
        host, port = parse_address(settings.xray_address)
        try:
            bound_host, bound_port = await self.xray_daemon.start(host, port)
            if self.daemon_app is not None:
                self._daemon_tcp = await serve_tcp(self.daemon_app, bound_host, bound_port)
            self.xray_address = f"{bound_host}:{bound_port}"
        except OSError as exc:
            self.xray_daemon.close()
            logger.warning(
                "no X-Ray daemon: cannot listen on %s (%s); set --xray-address",
                settings.xray_address,
                exc,
            )
        self.zygotes = None
        if self.isolation.isolated and settings.cold_start == "zygote":
            self.zygotes = Zygotes(
                self.isolation.cgroup_support,
                self.isolation.sandboxes_dir,
                BOOTSTRAP,
                sdk_packages(),
                prepared=settings.zygote_prepared,
            )
        env = SandboxEnvironment(
            region=settings.region,
            account_id=settings.account_id,
            access_key_id=settings.access_key_id,
            secret_access_key=settings.secret_access_key,
            endpoint_url=settings.endpoint_url,
            sdk_dir=await asyncio.to_thread(sdk_path, data_dir),
            init_timeout=settings.init_timeout,
            log_tail_bytes=settings.log_tail_bytes,
            log_limit_bytes=settings.sandbox_log_limit,
            isolation=self.isolation,
            sdk_packages=sdk_packages(),
            zygotes=self.zygotes,
            xray_address=self.xray_address,
        )
        budget = settings.sandbox_memory_budget or int(placement.host_memory_mb() * 0.8)
        self.workers = WorkerManager(
            env,
            self.code,
            self.logs,
            idle_timeout=settings.sandbox_idle_timeout,
            placement=placement.LocalPlacement(budget),
        )
        self.workers.start()
        # Nothing runs yet: code that no version names is garbage, however new.
        removed = await self.workers.collect_code(self.functions.code_digests(), older_than=0)
        if removed:
            logger.info("removed %d zips and trees of code no function names any more", removed)
        self._code_collector = asyncio.create_task(
            self._collect_code_forever(), name="gureum-code-collector"
        )
        self.async_invoker = AsyncInvoker(
            self,
            retry_delays=settings.retry_delay_seconds,
            concurrency=settings.async_concurrency,
            # One node on SQLite: events claimed before a crash have nobody running them.
            release_on_start=self.store.dialect == "sqlite",
        )
        await self.async_invoker.start()
        self._provision_all()
        self.functions.on_change(self.workers.retire)
        self.functions.on_change(self._forget_reservation)
        if self.zygotes is not None:
            self._warming: set[asyncio.Task[None]] = set()
            self.functions.on_change(self._warm_zygote)
            for runtime in {c["Runtime"] for c in self.functions.list_page(None, 1_000_000)[0]}:
                self._warm(runtime)

    async def _collect_code_forever(self) -> None:
        """Every ``CODE_COLLECTION_INTERVAL``, remove the code that updates and deletes
        left unnamed (sparing anything stored within the interval: an upload whose
        function row is still being written)."""
        while True:
            await asyncio.sleep(CODE_COLLECTION_INTERVAL)
            try:
                await self.workers.collect_code(
                    self.functions.code_digests(), older_than=CODE_COLLECTION_INTERVAL
                )
            except Exception:
                logger.exception("collecting unused function code failed")

    def _warm_zygote(self, name: str) -> None:
        """Start the zygote of a function's runtime before its first cold start needs it."""
        try:
            self._warm(self.functions.get(name).runtime)
        except Exception:
            return  # deleted: nothing to warm

    def _warm(self, runtime: str) -> None:
        async def warm() -> None:
            try:
                if runtime.startswith("python"):
                    interpreter = await asyncio.to_thread(python_interpreter, runtime)
                else:
                    interpreter = sys.executable
                assert self.zygotes is not None
                await self.zygotes.get(interpreter)
            except Exception as exc:  # the cold start will say what is wrong
                logger.debug("no zygote for %s yet: %s", runtime, exc)

        task = asyncio.create_task(warm())
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    def _provision_all(self) -> None:
        """Keep the provisioned sandboxes every stored config asks for (at start-up)."""
        configs, _ = self.functions.list_page(None, 1_000_000)
        for config in configs:
            for qualifier, wanted in (config.get("_Provisioned") or {}).items():
                try:
                    target = self.functions.provisioning_target(config["FunctionName"], qualifier)
                except Exception:
                    logger.warning(
                        "provisioned concurrency of %s:%s names nothing any more",
                        config["FunctionName"],
                        qualifier,
                    )
                    continue
                self.workers.provision(target, int(wanted["Requested"]))

    def _forget_reservation(self, name: str) -> None:
        """A deleted function's reserved concurrency goes with it."""
        if name not in self.functions.reservations():
            self.counting.reserve(name, None)

    def invocation(
        self,
        function: FunctionVersion,
        qualifier: str | None,
        payload: bytes,
        request_id: str,
        *,
        trace_header: str | None = None,
        client_context: str | None = None,
    ) -> Invocation:
        """An event for ``function`` as invoked (``qualifier`` as the caller gave it;
        ``trace_header``: the caller's ``X-Amzn-Trace-Id``)."""
        trace = InvocationTrace.begin(
            trace_header,
            function.tracing_active,
            lambda: self.sampler.sample(function.name, "AWS::Lambda::Function"),
        )
        return Invocation(
            request_id,
            payload,
            int(time.time() * 1000) + function.timeout * 1000,
            function_arn(self.settings.region, self.settings.account_id, function.name, qualifier),
            trace_id=trace.header,
            client_context=client_context,
            trace=trace,
        )

    async def invoke(
        self, function: FunctionVersion, invocation: Invocation, *, tail: bool = False
    ) -> InvokeOutcome:
        """Run an invocation under the Counting Service's limits (429 when over them)."""
        slot = self.counting.acquire(function.name)
        try:
            outcome = await self.workers.invoke(function, invocation, tail=tail)
        finally:
            self.counting.release(slot)
        trace = invocation.trace
        if trace is not None and trace.sampled:
            for document in trace.segments(
                function_name=function.name,
                function_arn=invocation.invoked_function_arn,
                account_id=self.settings.account_id,
                request_id=invocation.request_id,
                region=self.settings.region,
                duration_ms=outcome.duration_ms,
                init_ms=outcome.init_duration_ms,
                error_body=outcome.body if outcome.function_error else None,
            ):
                self.traces.add(from_document(document))
        return outcome

    async def stop(self) -> None:
        """Drain in-flight invokes, stop every sandbox, flush logs, close the store."""
        self._code_collector.cancel()
        await self.async_invoker.stop(self.settings.shutdown_timeout)
        await self.workers.shutdown(self.settings.shutdown_timeout)
        if self.zygotes is not None:
            await self.zygotes.close()
        self.xray_daemon.close()
        if self._daemon_tcp is not None:
            await self._daemon_tcp.shutdown()  # (its socket is closed with it)
        await self.traces.close()
        await self.logs.close()
        await asyncio.to_thread(self.store.close)

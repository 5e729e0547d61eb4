"""``gureum server --processes N``: N server processes behind one edge.

A node is one Python process, and its event loop one core: the edge's own work (HTTP,
SigV4, the APIs) is what bounds a node's throughput. The supervisor runs N nodes on
one machine, each a whole ``gureum server`` on the one store (the data directory's
SQLite, or PostgreSQL), listening on the same ports with ``SO_REUSEPORT``
(:mod:`gureum.sockets`) so that the kernel spreads clients' connections, and the X-Ray
daemon's datagrams, over them. Nothing more is needed for them to work together: every
node already keeps in the store what another may need (leases, connections, queues,
tables); each also listens on a port of its own, which it advertises to the others
(``--node-address``) for the ``@connections`` requests it must answer.

The supervisor itself serves nothing. It

- settles the ports first (a free one for port 0; an address already taken by
  another program fails here, once) and holds each TCP port bound, not listening,
  for as long as it runs, so that no program without ``SO_REUSEPORT`` takes it
  between two processes' starts;
- migrates the store, then starts the processes one after another, each when the one
  before says it is ready (on a pipe), with the settings as ``GUREUM_*`` variables (not
  arguments, which any user of the host could read in ``ps``); each gets a range of
  sandbox uids of its own;
- restarts a process that dies (a process that dies before it is ready, at the start,
  stops them all: the cause is the settings, not the process);
- on SIGINT or SIGTERM tells each process to stop (one SIGTERM; each drains as a
  single server does) and waits for them. The processes are in a process group of
  their own, so a terminal's Ctrl-C reaches them only through the supervisor (a second
  signal would make uvicorn stop at once), and each is told to stop if the supervisor
  dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

import sqlalchemy as sa

from gureum import sockets
from gureum.settings import Settings
from gureum.store import Store
from gureum.tracing.daemon import parse_address

logger = logging.getLogger("gureum")

#: What a process is told by its supervisor: the write end of a pipe to say it is ready
#: on (``gureum.server`` writes "ready" there), and its number (for its log lines).
READY_FD = "GUREUM_SUPERVISOR_READY_FD"
PROCESS_NUMBER = "GUREUM_SUPERVISOR_PROCESS"
#: Sandbox uids each process may use (``Isolation.next_uid`` cycles through as many).
UIDS_PER_PROCESS = 60000
#: How long a process may take to say it is ready (migrations and a first runtime
#: install included), and how long the supervisor waits past the shutdown timeout.
READY_SECONDS = 300.0
STOP_MARGIN_SECONDS = 30.0
#: A process that dies this often in a row without becoming ready is not started again.
MAX_FAILED_STARTS = 3
PR_SET_PDEATHSIG = 1


class Supervisor:
    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.claims: list[socket.socket] = []
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: int | None = None  # the signal that asked for the stop

    # ports

    def settle_ports(self) -> bool:
        """Concrete ports for every process (False: the edge's cannot be had)."""
        settings = self.settings
        try:
            edge = self._claim(settings.host, settings.port)
        except OSError as exc:
            logger.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc)
            return False
        settings.port = sockets.port_of(edge)
        tls = settings.resolved_tls_port
        if tls is not None:
            try:
                settings.tls_port = sockets.port_of(self._claim(settings.host, tls))
            except OSError as exc:
                logger.warning(
                    "no HTTPS edge: cannot listen on %s:%s (%s); set --tls-port",
                    settings.host,
                    tls,
                    exc,
                )
                settings.tls_port = -1
        else:
            settings.tls_port = -1
        host, port = parse_address(settings.xray_address)
        if port == 0:  # a free UDP port whose TCP twin is free too
            for _ in range(5):
                with sockets.bind(host, 0, udp=True) as udp:
                    found = sockets.port_of(udp)
                with contextlib.suppress(OSError):
                    self._claim(host, found)
                    bracketed = f"[{host}]" if ":" in host else host
                    settings.xray_address = f"{bracketed}:{found}"
                    break
        return True

    def _claim(self, host: str, port: int) -> socket.socket:
        sock = sockets.bind(host, port, reuse_port=True)
        self.claims.append(sock)
        return sock

    # processes

    def environment(self, number: int) -> dict[str, str]:
        """The process's environment: the supervisor's, its settings as ``GUREUM_*``
        variables (every one, so that nothing is read twice differently)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUREUM_")}
        values = self.settings.model_dump()
        values.update(
            processes=1,
            reuse_port=True,
            sandbox_uid_base=self.settings.sandbox_uid_base + (number - 1) * UIDS_PER_PROCESS,
        )
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            env[f"GUREUM_{name.upper()}"] = str(value)
        env[PROCESS_NUMBER] = f"{number}/{self.count}"
        return env

    def start(self, number: int) -> bool:
        """Start process ``number`` and wait until it is ready (False: it died first)."""
        read, write = os.pipe()
        env = self.environment(number)
        env[READY_FD] = str(write)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "gureum", "server"],
                env=env,
                pass_fds=(write,),
                process_group=0,
                preexec_fn=_stop_with_parent,
            )
        finally:
            os.close(write)
        self.processes[number] = process
        deadline = time.monotonic() + READY_SECONDS
        try:
            while self.stopping is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.error("process %d was not ready in %.0f s", number, READY_SECONDS)
                    return False
                ready, _, _ = select.select([read], [], [], min(left, 0.5))
                if ready:
                    # "ready", or nothing: the process ended before it was
                    return os.read(read, 16).startswith(b"ready")
            return False
        finally:
            os.close(read)

    def run(self) -> int:
        for number in range(1, self.count + 1):
            if not self.start(number):
                self.stop()
                return 0 if self.stopping is not None else 1
        logger.info(
            "ready: %d processes behind the edge http://%s:%s",
            self.count,
            self.settings.host,
            self.settings.port,
        )
        failed = 0
        while self.stopping is None:
            time.sleep(0.2)
            for number, process in list(self.processes.items()):
                code = process.poll()
                if code is None or self.stopping is not None:
                    continue
                logger.warning("process %d ended (%s); starting another", number, code)
                if self.start(number):
                    failed = 0
                    continue
                failed += 1
                if failed >= MAX_FAILED_STARTS:
                    logger.error("process %d could not be started again; stopping", number)
                    self.stop()
                    return 1
        self.stop()
        return 0

    def stop(self) -> None:
        """Each process told to stop (SIGTERM), and waited for."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + STOP_MARGIN_SECONDS
        for number, process in self.processes.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("process %d did not stop in time: killed", number)
                process.kill()
                process.wait()
        for claim in self.claims:
            claim.close()

    def on_signal(self, number: int, _frame: FrameType | None) -> None:
        if self.stopping is None:
            self.stopping = number
            logger.info("stopping %d processes", len(self.processes))


def supervise(settings: Settings) -> int:
    """Run ``settings.processes`` server processes (0: one per core) until SIGINT or
    SIGTERM; the exit status."""
    count = settings.processes or os.cpu_count() or 1
    supervisor = Supervisor(settings.model_copy(), count)
    if not supervisor.settle_ports():
        return 1
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, supervisor.on_signal)
    # Once, before any process starts (each would, one after another, under a lock).
    url = settings.resolved_database_url
    store = Store(url)
    try:
        store.migrate()
    except sa.exc.SQLAlchemyError as exc:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        logger.error("cannot open the store at %s: %s", shown, exc.__cause__ or exc)
        supervisor.stop()
        return 1
    finally:
        store.close()
    return supervisor.run()


def _stop_with_parent() -> None:
    """(In the child, before it runs gureum.) SIGTERM when the supervisor dies."""
    if sys.platform.startswith("linux"):
        libc: Any = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

"""Control groups for sandboxes: memory (no swap), pids and CPU, on cgroup v2 or v1.

The version is detected from ``/proc/self/mountinfo``, never assumed. Sandbox groups
live under a ``gureum`` group beside the server's own, so the host's limits on the
server also bound its sandboxes. Each group's name says which server process made it
(its pid and start time): groups left by a server that died are removed at the next
start, and those of servers still running on the host are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Lambda gives one full vCPU at 1,769 MB and CPU in proportion below and above.
MB_PER_VCPU = 1769
CPU_PERIOD_US = 100_000


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


#: This server process, as the names of the sandbox groups it makes say it.
OWNER = f"{os.getpid()}x{_start_time(os.getpid())}"


def sandbox_group(sandbox_id: str) -> str:
    """The name of a sandbox's group: this server's, and the sandbox's own id."""
    return f"sandbox-{OWNER}-{sandbox_id}"


def owner_alive(name: str) -> bool:
    """Whether the server process that made a group (``sandbox-OWNER-...``) or a mark
    (``OWNER-...``) named so still runs (other names: no)."""
    owner = name.removeprefix("sandbox-").split("-", 1)[0]
    pid, _, started = owner.partition("x")
    if not pid.isdigit() or not started:
        return False
    return _start_time(int(pid)) == started


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                found.append((fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_path(controller: str | None) -> str:
    """The server's own cgroup path in a v1 hierarchy (``controller``) or in v2 (None)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller is None and controllers == "":
                return path
            if controller is not None and controller in controllers.split(","):
                return path
    return "/"


@dataclass(frozen=True, slots=True)
class CgroupSupport:
    """What this host offers: the version and the parent directory per controller."""

    version: int  # 0: none usable, 1 or 2
    parents: dict[str, Path]  # controller -> the "gureum" parent group
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.version > 0


def detect(root_name: str = "gureum") -> CgroupSupport:
    """Find usable memory, pids and cpu controllers, preferring cgroup v2."""
    if os.geteuid() != 0:
        return CgroupSupport(0, {}, "not running as root")
    mounts = _mounts()
    for point, fstype, _ in mounts:
        if fstype != "cgroup2":
            continue
        controllers = (
            set((Path(point) / "cgroup.controllers").read_text().split())
            if (Path(point) / "cgroup.controllers").exists()
            else set()
        )
        if {"memory", "pids", "cpu"} <= controllers:
            parent = Path(point) / _own_path(None).lstrip("/") / root_name
            return CgroupSupport(2, {"unified": parent})
    parents: dict[str, Path] = {}
    for controller in ("memory", "pids", "cpu"):
        for point, fstype, options in mounts:
            if fstype == "cgroup" and controller in options:
                parents[controller] = Path(point) / _own_path(controller).lstrip("/") / root_name
                break
    if set(parents) == {"memory", "pids", "cpu"}:
        return CgroupSupport(1, parents)
    missing = sorted({"memory", "pids", "cpu"} - set(parents))
    return CgroupSupport(0, {}, f"no cgroup controllers for {', '.join(missing)}")


class Cgroup:
    """One sandbox's group (a directory per controller on v1, one directory on v2)."""

    def __init__(self, support: CgroupSupport, name: str) -> None:
        self.support = support
        self.dirs = {controller: parent / name for controller, parent in support.parents.items()}
        self._peak_fd: int | None = None

    @property
    def procs_files(self) -> list[str]:
        """Files a process writes its pid to in order to join (the jail does so itself)."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def _write(self, controller: str, name: str, value: str) -> None:
        (self.dirs[controller] / name).write_text(value)

    def _read(self, controller: str, name: str) -> str:
        return (self.dirs[controller] / name).read_text()

    def create(self, memory_mb: int | None, pids_max: int) -> None:
        """Make the group with its pids limit and memory limit (None: set it later)."""
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        if self.support.version == 2:
            self._write("unified", "pids.max", str(pids_max))
        else:
            self._write("pids", "pids.max", str(pids_max))
        if memory_mb is not None:
            self.limit_memory(memory_mb)

    def limit_memory(self, memory_mb: int) -> None:
        """Memory without swap: past it the kernel's OOM killer ends the sandbox."""
        limit = str(memory_mb * 1024 * 1024)
        if self.support.version == 2:
            self._write("unified", "memory.max", limit)
            with contextlib.suppress(OSError):
                self._write("unified", "memory.swap.max", "0")
            with contextlib.suppress(OSError):
                self._write("unified", "memory.oom.group", "1")
        else:
            self._write("memory", "memory.limit_in_bytes", limit)
            with contextlib.suppress(OSError):  # absent when swap accounting is off
                self._write("memory", "memory.memsw.limit_in_bytes", limit)

    def limit_cpu(self, memory_mb: int) -> None:
        """CPU in proportion to memory, as Lambda allocates it (applied after init)."""
        quota = max(int(CPU_PERIOD_US * memory_mb / MB_PER_VCPU), 1000)
        if self.support.version == 2:
            self._write("unified", "cpu.max", f"{quota} {CPU_PERIOD_US}")
        else:
            self._write("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US))
            self._write("cpu", "cpu.cfs_quota_us", str(quota))

    def memory_peak_bytes(self) -> int:
        """The group's own high-water mark of memory use (read once per invoke).

        The file is kept open and read from its start each time: opening a cgroup
        file per invoke was most of this call's cost on the invoke path.
        """
        try:
            if self._peak_fd is None:
                controller, name = (
                    ("unified", "memory.peak")
                    if self.support.version == 2
                    else ("memory", "memory.max_usage_in_bytes")
                )
                self._peak_fd = os.open(self.dirs[controller] / name, os.O_RDONLY)
            return int(os.pread(self._peak_fd, 64, 0))
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this group."""
        try:
            if self.support.version == 2:
                text = self._read("unified", "memory.events")
            else:
                text = self._read("memory", "memory.oom_control")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Remove the group once it is empty.

        Its processes are normally gone already; any that are not (a sandbox whose
        zygote died is still being killed) are killed, and the removal is retried from
        the event loop for a few seconds.
        """
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        if self._try_remove():
            return
        self.kill_all()
        with contextlib.suppress(RuntimeError):  # no event loop: a later start cleans up
            self._retry(asyncio.get_running_loop(), 50)

    def _try_remove(self) -> bool:
        removed = True
        for path in self.dirs.values():
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                removed = False
        return removed

    def _retry(self, loop: asyncio.AbstractEventLoop, attempts: int) -> None:
        if not self._try_remove() and attempts > 0:
            loop.call_later(0.1, self._retry, loop, attempts - 1)

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the group (on v1 this waits for an RCU grace period)."""
        for path in self.procs_files:
            with open(path, "w") as handle:
                handle.write(str(pid))

    def kill_all(self) -> None:
        """SIGKILL every process in the group."""
        for path in self.dirs.values():
            _kill_members(path)


def _kill_members(group: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


def remove_stale(support: CgroupSupport) -> int:
    """Remove the sandbox groups (and their processes) of servers that died; return
    how many. Groups of servers still running, this one included, are theirs."""
    removed = 0
    for parent in support.parents.values():
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if not child.is_dir() or owner_alive(child.name):
                continue
            _kill_members(child)
            with contextlib.suppress(OSError):
                child.rmdir()
                removed += 1
    return removed

"""How sandboxes are isolated on this host, decided once at start-up and said out loud.

``namespaces``: each sandbox in its own mount, PID, IPC and UTS namespaces (``jail.py``),
under a cgroup for memory, pids and CPU, as an unprivileged uid, with a private ``/tmp``
and its code read-only. ``rlimits``: the fallback where the host cannot give that (not
root, no cgroups, no namespaces): a plain process under resource limits, with the reasons
logged at start-up and printed by ``gureum doctor``.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gureum.tls.edge import TrustFiles
from gureum.workers import cgroups

logger = logging.getLogger(__name__)

JAIL = Path(__file__).parent / "jail.py"
#: Lambda's limit on processes and threads in one execution environment.
PIDS_MAX = 1024
HOST_DIRS = ("/usr", "/etc")
HOST_TOP = ("/bin", "/lib", "/lib32", "/lib64", "/sbin")
#: Where an isolated sandbox sees gureum's CA, and the host's CAs with it.
SANDBOX_CA = "/var/gureum/ca.pem"
SANDBOX_CA_BUNDLE = "/var/gureum/ca-bundle.pem"


@dataclass
class Isolation:
    """The isolation mode in force, and what is missing when it is the fallback."""

    mode: str  # "namespaces" or "rlimits"
    cgroup_support: cgroups.CgroupSupport
    sandboxes_dir: Path
    uid_base: int
    missing: list[str] = field(default_factory=list)
    _uids: Any = field(default_factory=lambda: itertools.count())
    #: This server's mark among the sandboxes' directory's users (see :func:`detect`)
    marker: Path | None = None

    def release(self) -> None:
        """This server no longer uses the sandboxes' directory (it is stopping)."""
        if self.marker is not None:
            self.marker.unlink(missing_ok=True)

    @property
    def isolated(self) -> bool:
        return self.mode == "namespaces"

    def next_uid(self) -> int:
        """A uid (and gid) of its own for each sandbox, from a range no host user has."""
        return self.uid_base + int(next(self._uids)) % 60000

    def report(self) -> list[str]:
        """What is and is not enforced, one line each (for the log and ``gureum doctor``)."""
        if self.isolated:
            return [
                "isolation: namespaces (mount, pid, ipc, uts) with a private root",
                f"cgroups: v{self.cgroup_support.version} (memory without swap, "
                f"pids <= {PIDS_MAX}, CPU in proportion to memory)",
                f"sandbox users: unprivileged uids from {self.uid_base}, no_new_privs",
                "/tmp: private tmpfs sized to EphemeralStorage; code read-only at /var/task",
            ]
        return [
            "isolation: rlimits only (sandboxes are plain processes of the server's user)",
            *(f"  off: {reason}" for reason in self.missing),
        ]


def user_namespaces() -> str | None:
    """None if sandboxes may create user namespaces (SnapStart restores need them)."""
    try:
        limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        return "the kernel has no user namespaces"
    if limit == 0:
        return "user namespaces are disabled (user.max_user_namespaces = 0)"
    return None


def _namespaces_work() -> str | None:
    """None if this host lets us unshare the namespaces a sandbox needs, else why not."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "cannot test namespaces: util-linux 'unshare' is not installed"
    try:
        subprocess.run(
            [unshare, "--mount", "--pid", "--ipc", "--uts", "--fork", "true"],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"namespaces are not available: {exc}"
    return None


#: The sandboxes' directory's list of the servers using it.
_SERVERS = ".servers"


def detect(mode: str, data_dir: Path, uid_base: int, *, clean: bool = True) -> Isolation:
    """The isolation this host can give, for the configured ``mode``.

    ``clean``: remove sandbox roots and cgroups a previous server left (at start-up only).
    """
    support = cgroups.detect()
    sandboxes_dir = data_dir / "sandboxes"
    missing = []
    if os.geteuid() != 0:
        missing.append("not running as root: no namespaces, cgroups or separate users")
    else:
        if not support.available:
            missing.append(f"cgroups: {support.reason}")
        problem = _namespaces_work()
        if problem:
            missing.append(problem)
    if mode == "rlimits" or (mode == "auto" and missing):
        isolation = Isolation(
            "rlimits", support, sandboxes_dir, uid_base, missing or ["isolation set to rlimits"]
        )
    elif missing:
        raise RuntimeError("isolation 'namespaces' is not possible here: " + "; ".join(missing))
    else:
        isolation = Isolation("namespaces", support, sandboxes_dir, uid_base)
        if not clean:
            return isolation
        # Roots a previous server left behind when it was killed are removed, unless
        # another server still uses the directory (several may share one data
        # directory): each marks itself in ``.servers`` while it runs, by its process
        # and an id of its own, and a mark whose process is gone is stale.
        servers = sandboxes_dir / _SERVERS
        servers.mkdir(parents=True, exist_ok=True)
        others = False
        for mark in servers.iterdir():
            if cgroups.owner_alive(mark.name):
                others = True
            else:
                mark.unlink(missing_ok=True)
        isolation.marker = servers / f"{cgroups.OWNER}-{uuid.uuid4().hex[:8]}"
        isolation.marker.touch()
        if not others:
            for stale in sandboxes_dir.iterdir():
                if stale.name != _SERVERS:
                    shutil.rmtree(stale, ignore_errors=True)
        removed = cgroups.remove_stale(support)
        if removed:
            logger.info("removed %d cgroups left by a previous server", removed)
    return isolation


def interpreter_prefix(interpreter: str) -> str:
    """The installation prefix of a Python interpreter (what must be visible to run it)."""
    real = os.path.realpath(interpreter)
    for prefix in (sys.base_prefix, sys.prefix):
        if real.startswith(prefix + "/"):
            return prefix
    return str(Path(real).parent.parent)


def root_base(
    *, root: Path, interpreter: str | None, bootstrap: Path | None, sdk_packages: list[Path]
) -> dict[str, Any]:
    """The part of a sandbox's root that is the same for every function of a runtime.

    The host's system directories, the interpreter and gureum's runtime (a zygote's
    prepared children mount this ahead of need; the function's code comes later).
    """
    binds: list[tuple[str, str]] = [(d, d) for d in HOST_DIRS if os.path.isdir(d)]
    links: list[tuple[str, str]] = []
    for top in HOST_TOP:
        if os.path.islink(top):
            links.append((os.readlink(top), top))
        elif os.path.isdir(top):
            binds.append((top, top))
    if interpreter is not None:
        prefix = interpreter_prefix(interpreter)
        if not prefix.startswith(HOST_DIRS):
            binds.append((prefix, prefix))
    if bootstrap is not None:
        binds.append((str(bootstrap), "/var/runtime/bootstrap.py"))
        hooks = bootstrap.parent / "snapshot_restore_py.py"  # SnapStart's hooks library
        binds.append((str(hooks), f"/var/runtime/{hooks.name}"))
    for package in sdk_packages:
        binds.append((str(package), f"/var/runtime/{package.name}"))
    return {"root": str(root), "binds": binds, "links": links, "hostname": "sandbox"}


def jail_spec(
    *,
    base: dict[str, Any],
    code_dir: Path,
    python: bool,
    tmp_mb: int,
    uid: int,
    procs: list[str],
    env: dict[str, str],
    argv: list[str],
    network: str = "host",
    opt_dir: Path | None = None,
) -> dict[str, Any]:
    """What ``jail.py`` builds: mounts, user, runtime command and its environment.

    ``opt_dir``: the function's layers, merged, bound read-only at ``/opt``."""
    binds = [(str(code_dir), "/var/task")]
    if opt_dir is not None:
        binds.append((str(opt_dir), "/opt"))
    return {
        "base": base,
        "binds": binds,
        "tmp_mb": tmp_mb,
        "uid": uid,
        "gid": uid,
        "cgroup_procs": procs,
        "cwd": "/var/task",
        "env": env,
        "argv": argv,
        "network": network,
        "python_bootstrap": "/var/runtime/bootstrap.py" if python else None,
        "api_socket": None,
        "api_port": None,
    }


def trust_binds(trust: TrustFiles | None) -> list[tuple[str, str]]:
    """The trust files, bound read-only where an isolated sandbox sees them (the files
    alone: the node's key beside them stays out of sight)."""
    if trust is None:
        return []
    return [(str(trust.ca), SANDBOX_CA), (str(trust.bundle), SANDBOX_CA_BUNDLE)]


def trust_environment(trust: TrustFiles | None, *, isolated: bool) -> dict[str, str]:
    """The variables that make a sandbox's TLS clients trust the HTTPS edge: Node's
    extra CA, and for botocore, requests and OpenSSL a bundle of the host's CAs and
    gureum's (each replaces their CAs, so real sites must stay in it)."""
    if trust is None:
        return {}
    ca, bundle = (SANDBOX_CA, SANDBOX_CA_BUNDLE) if isolated else (str(trust.ca), str(trust.bundle))
    return {
        "NODE_EXTRA_CA_CERTS": ca,
        "AWS_CA_BUNDLE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "SSL_CERT_FILE": bundle,
    }

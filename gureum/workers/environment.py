"""What every sandbox on a host is given, besides its function's own configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gureum.tls.edge import TrustFiles
from gureum.workers.isolation import Isolation
from gureum.workers.zygote import Zygotes


@dataclass(frozen=True, slots=True)
class SandboxEnvironment:
    """What every sandbox on a host is given, besides its function's own configuration."""

    region: str
    account_id: str
    access_key_id: str
    secret_access_key: str
    endpoint_url: str
    sdk_dir: Path
    init_timeout: float
    log_tail_bytes: int
    log_limit_bytes: int
    isolation: Isolation
    sdk_packages: list[Path]
    #: Fork servers for cold starts (isolated sandboxes only); None: exec a jail each time.
    zygotes: Zygotes | None = None
    #: HOST:PORT of the X-Ray daemon (AWS_XRAY_DAEMON_ADDRESS), if one runs.
    xray_address: str | None = None
    #: Runtimes of each Node.js version in use kept started ahead of need (a zygote
    #: cannot fork Node): 0 starts each one at its cold start.
    started_runtimes: int = 2
    #: gureum's CA and the host's CAs with it, that sandboxes trust (None: no HTTPS edge).
    trust: TrustFiles | None = None

"""Throughput, scale-out and idle sandbox memory, beside the floor of the same run.

Run: ``python benchmarks/concurrency.py [--clients 64] [--seconds 10] [--scale 200]``
(needs ``wrk``: ``apt-get install wrk``).

- Throughput: sync invokes/s of a no-op handler with 64 concurrent keep-alive clients
  (wrk), beside a bare ASGI echo server measured by the same wrk in the same run.
  Budget (README): >= 3,000 invokes/s on the 2-core machine.
- Scale-out: 200 concurrent invokes of a function that sleeps 1 s, from no sandbox at
  all: the time until the last of them has started, from the functions' own clocks.
  Budget: <= 2 s.
- Idle sandbox memory: proportional set size (PSS) of every process of the idle
  sandboxes (init and runtime; and the jail, from ``--cold-start exec``) plus the
  zygotes', per sandbox. Budget: <= 8 MB.

``--cold-start exec`` (passed to the server) measures the plain process start.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from invoke_latency import create_function, echo_and_gureum, sign  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
SLEEP = (
    "import time\ndef handler(event, context):\n    t = time.time()\n"
    "    time.sleep(1)\n    return t\n"
)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "{}"
{headers}
"""


def wrk(port: int, path: str, headers: dict[str, str], clients: int, seconds: int) -> float:
    """Requests per second that wrk reaches against ``path``."""
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("{headers}", lines))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{seconds}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  (wrk saw {errors.group(1)} non-2xx responses)")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else 0.0


def invoke(port: int, name: str, headers: dict[str, str] | None = None) -> bytes:
    """One invoke; ``headers``: signed once for many (the client's signing is not ours)."""
    path = f"/2015-03-31/functions/{name}/invocations"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, b"{}", headers or sign(port, "POST", path, b"{}"))
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return body


def sandbox_pss_mb() -> tuple[int, float]:
    """(sandboxes, PSS MB of all their processes and of the zygotes that forked them).

    Sandboxes are found by their memory cgroups; a zygote's prepared children (one
    process, no runtime yet) are not sandboxes and are left out, while the zygotes'
    own PSS is counted, shared out over the sandboxes.
    """
    groups = list(Path("/sys/fs/cgroup").glob("memory/**/gureum/sandbox-*"))
    pids = set()
    count = 0
    for group in groups:
        procs = group / "cgroup.procs"
        if procs.exists():
            members = [int(p) for p in procs.read_text().split()]
            if len(members) >= 2:  # init and runtime (and the jail, from exec)
                count += 1
                pids.update(members)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"--zygote" in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
            except OSError:
                continue
    total_kb = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total_kb += int(found.group(1)) if found else 0
    return count, total_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--cold-start", choices=("zygote", "exec"), default="zygote")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")

    # 200 sandboxes of 128 MB are 25 GB on paper; an idle one uses a few MB
    budget: list[str] = []  # a default server (measured placement) holds the burst
    budget += ["--cold-start", args.cold_start]
    print(f"cold start: {args.cold_start}")
    with echo_and_gureum(*budget) as (echo_port, port):
        print(f"throughput, no-op handler (128 MB), {args.clients} keep-alive clients:")
        floor = wrk(echo_port, "/", {}, args.clients, args.seconds)
        print(f"  floor: bare ASGI echo              {floor:9.0f} requests/s")
        create_function(port, "noop", NOOP)
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda _: invoke(port, "noop"), range(args.clients)))
        path = "/2015-03-31/functions/noop/invocations"
        rate = wrk(port, path, sign(port, "POST", path, b"{}"), args.clients, args.seconds)
        print(
            f"  gureum sync invokes                {rate:9.0f} invokes/s   "
            f"({rate / floor:.0%} of the floor; budget >= 3,000/s)"
        )

        print(f"scale-out: {args.scale} concurrent invokes of a 1 s function, from cold:")
        create_function(port, "sleeper", SLEEP)
        signed = sign(port, "POST", "/2015-03-31/functions/sleeper/invocations", b"{}")
        with concurrent.futures.ThreadPoolExecutor(args.scale) as pool:
            # Every client thread exists before the burst: starting them is the client's
            # cost, not the platform's.
            ready = threading.Barrier(args.scale)
            list(pool.map(lambda _: ready.wait(), range(args.scale)))
            start = time.time()
            bodies = list(pool.map(lambda _: invoke(port, "sleeper", signed), range(args.scale)))
        starts = []
        for body in bodies:
            try:
                starts.append(float(json.loads(body)))
            except (ValueError, TypeError):
                pass
        if starts:
            print(
                f"  {len(starts)} of {args.scale} ran; the last started "
                f"{max(starts) - start:.2f} s after the burst   (budget <= 2 s)"
            )
        else:
            print(f"  none ran: {bodies[0][:200]!r}")

        count, pss = sandbox_pss_mb()
        if count:
            print(
                f"idle sandboxes: {count}, PSS {pss:.0f} MB in all, "
                f"{pss / count:.1f} MB each   (budget <= 8 MB)"
            )
        else:
            print("idle sandbox memory: no sandbox cgroups found (isolation off?)")


if __name__ == "__main__":
    main()

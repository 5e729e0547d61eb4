"""Nothing accepted is lost: 2,000 asynchronous events, the server killed with SIGKILL
part-way, then restarted on the same data directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError
from urllib3.exceptions import HTTPError

from tests.conftest import ROLE, client, free_port, server_process, zip_files

EVENTS = 2000
SENDERS = 8
WORK = "def handler(event, context):\n    return event\n"


def start(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    return server_process(port, data_dir, "--retry-delays", "0.2,0.4")


def test_accepted_events_survive_sigkill(
    tmp_path: Path, record_property: Callable[..., Any]
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    server = start(port, data_dir)
    try:
        lam, sqs = client("lambda", endpoint), client("sqs", endpoint)
        url = sqs.create_queue(QueueName="done")["QueueUrl"]
        lam.create_function(
            FunctionName="work",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_files({"app.py": WORK})},
        )
        lam.put_function_event_invoke_config(
            FunctionName="work",
            DestinationConfig={
                "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:done"}
            },
        )

        acked = Counter[int]()
        lock = threading.Lock()

        def send(first: int) -> None:
            sender = client("lambda", endpoint, connect_timeout=2, read_timeout=10)
            for n in range(first, EVENTS, SENDERS):
                while True:  # a refused or cut request is sent again, as a client would
                    try:
                        sender.invoke(
                            FunctionName="work",
                            InvocationType="Event",
                            Payload=json.dumps({"n": n}),
                        )
                        break
                    except (EndpointConnectionError, HTTPError, ConnectionError, ClientError):
                        time.sleep(0.2)
                    except Exception as exc:  # botocore wraps resets in its own errors
                        if "Connection" not in type(exc).__name__:
                            raise
                        time.sleep(0.2)
                with lock:
                    acked[n] += 1

        threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        while sum(acked.values()) < EVENTS // 2:
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)  # part-way: accepting and running both
        server.wait()
        killed_at = sum(acked.values())
        server = start(port, data_dir)
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(acked) == list(range(EVENTS))

        seen = Counter[int]()
        deadline = time.monotonic() + 120
        while len(seen) < EVENTS and time.monotonic() < deadline:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in batch:
                seen[json.loads(message["Body"])["requestPayload"]["n"]] += 1
            if batch:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(batch)
                    ],
                )
        missing = sorted(set(range(EVENTS)) - set(seen))
        assert not missing, f"{len(missing)} accepted events never ran: {missing[:20]}"
        duplicates = sum(seen.values()) - EVENTS
        record_property("killed_after_acks", killed_at)
        record_property("duplicates", duplicates)
        print(f"killed after {killed_at} acks; {EVENTS} events ran, {duplicates} more than once")
        assert duplicates < EVENTS // 10  # at least once, and not much more
    finally:
        server.terminate()
        server.wait(timeout=60)

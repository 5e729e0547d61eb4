"""The State Manager's rule for a queue mapping's concurrency (pure), and a poller that
follows it on a real server: up past Lambda's first five while messages wait, never
past ScalingConfig.MaximumConcurrency."""

from __future__ import annotations

from typing import Any

from gureum.events.state_manager import FIRST, MOST, limit_of, next_concurrency
from tests.conftest import ROLE, unique_name, zip_files
from tests.events.conftest import drain, queue

OVERLAP = """
import json
import os
import time

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    started = time.time()
    time.sleep(0.6)
    sqs.send_message(
        QueueUrl=os.environ["OUT"],
        MessageBody=json.dumps({"start": started, "end": time.time()}),
    )
"""


def test_the_rule() -> None:
    assert limit_of(None, None) == MOST
    assert limit_of(20, None) == 20 and limit_of(20, 3) == 3 and limit_of(None, 0) == 0
    assert next_concurrency(FIRST, 1000, 10, MOST) == FIRST + 5  # messages wait: up
    assert next_concurrency(FIRST, 30, 10, MOST) == FIRST  # the batches take them
    assert next_concurrency(40, 0, 10, MOST) == 35  # an empty queue: down
    assert next_concurrency(FIRST, 0, 10, MOST) == FIRST  # never below the first five
    assert next_concurrency(FIRST, 1000, 10, 7) == 7  # under the limit
    assert next_concurrency(FIRST, 1000, 10, 0) == 0  # reserved at zero: none


def most_at_once(spans: list[dict[str, float]]) -> int:
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


def overlap_run(lam: Any, sqs: Any, count: int, **mapping: Any) -> int:
    out, _ = queue(sqs)
    url, arn = queue(sqs)
    name = unique_name("overlap")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": OVERLAP})},
        Environment={"Variables": {"OUT": out}},
    )
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": "x"} for n in range(min(10, count - start))],
        )
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1, **mapping)
    spans = drain(sqs, out, count, timeout=120)
    return most_at_once(spans)


def test_a_backlog_scales_a_poller_past_five(lam: Any, sqs: Any) -> None:
    assert overlap_run(lam, sqs, 120) > FIRST


def test_maximum_concurrency_caps_it(lam: Any, sqs: Any) -> None:
    assert overlap_run(lam, sqs, 20, ScalingConfig={"MaximumConcurrency": 2}) <= 2

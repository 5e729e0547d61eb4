"""``gureum traces``, ``trace`` and ``service-map`` against a real server."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer, client, unique_name


def _segment(trace: str, **fields: Any) -> dict[str, Any]:
    return {"id": secrets.token_hex(8), "trace_id": trace, **fields}


@pytest.fixture
def traced(gureum_server: RunningServer) -> dict[str, Any]:
    """Two traces tagged with an annotation of their own: a good one with a failing
    database call and a call to a function, and a failing one that started later."""
    tag = unique_name("tag").replace("-", "_")
    shop, pay, database_name = unique_name("shop"), unique_name("pay"), unique_name("db")
    now = time.time() - 2  # in the past: the commands ask up to now
    good = f"1-{int(now):08x}-{secrets.token_hex(12)}"
    bad = f"1-{int(now):08x}-{secrets.token_hex(12)}"
    database = _segment(
        good,
        name=database_name,
        namespace="remote",
        sql={"url": "postgresql://db/orders"},
        start_time=now + 0.1,
        end_time=now + 0.4,
        fault=True,
        cause={"exceptions": [{"type": "OperationalError", "message": "gone"}]},
    )
    database.pop("trace_id")
    root = _segment(
        good,
        name=shop,
        origin="AWS::EC2::Instance",
        start_time=now,
        end_time=now + 1.0,
        annotations={"tag": tag, "items": 3},
        http={
            "request": {"method": "POST", "url": "https://shop/buy"},
            "response": {"status": 200},
        },
        subsegments=[database],
    )
    function = _segment(
        good,
        name=pay,
        origin="AWS::Lambda::Function",
        parent_id=root["id"],
        start_time=now + 0.5,
        end_time=now + 0.9,
    )
    failing = _segment(
        bad,
        name=shop,
        origin="AWS::EC2::Instance",
        start_time=now + 0.2,
        end_time=now + 0.3,
        fault=True,
        annotations={"tag": tag},
        http={
            "request": {"method": "GET", "url": "https://shop/cart"},
            "response": {"status": 502},
        },
    )
    xray = client("xray", gureum_server.endpoint)
    answer = xray.put_trace_segments(
        TraceSegmentDocuments=[json.dumps(d) for d in (root, function, failing)]
    )
    assert answer["UnprocessedTraceSegments"] == []
    gureum_server.call(gureum_server.platform.traces.flush)
    return {"tag": tag, "good": good, "bad": bad, "shop": shop, "pay": pay, "db": database_name}


def test_traces_command(
    gureum_server: RunningServer, traced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    tagged = f'annotation.tag = "{traced["tag"]}"'
    code, out, _ = run(capsys, "traces", "--filter", tagged, *endpoint)
    assert code == 0
    header, newest, oldest = out.splitlines()
    assert header.split()[:3] == ["TRACE", "ID", "START"]
    assert newest.startswith(traced["bad"]) and "GET 502" in newest and "FAULT" in newest
    assert oldest.startswith(traced["good"]) and "POST 200" in oldest and "1000.0 ms" in oldest
    assert f"items=3 tag={traced['tag']}" in oldest and oldest.split()[-3] == "-"

    code, out, _ = run(
        capsys, "traces", "--filter", f"{tagged} AND fault", "--since", "1h", *endpoint
    )
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == [traced["bad"]]
    code, out, _ = run(capsys, "traces", "--filter", tagged, "--limit", "1", "--json", *endpoint)
    (only,) = json.loads(out)
    assert only["Id"] == traced["bad"] and only["HasFault"] is True
    code, out, err = run(capsys, "traces", "--filter", f"{tagged} AND error", *endpoint)
    assert code == 0 and out == "" and "no traces in the last 10m" in err


def test_traces_command_errors(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    code, out, err = run(capsys, "traces", "--filter", "responsetime > AND ok", *endpoint)
    assert code == 1 and out == ""
    assert err.startswith("gureum: InvalidRequestException: ") and "position 15" in err
    code, _, err = run(capsys, "traces", "--since", "ten minutes", *endpoint)
    assert code == 1 and "--since takes a duration" in err
    code, _, err = run(capsys, "traces", "--limit", "0", *endpoint)
    assert code == 1 and "--limit" in err


def test_trace_command(
    gureum_server: RunningServer, traced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    # Wide enough that no name is shortened (they carry the suite's counters).
    code, out, _ = run(capsys, "trace", traced["good"], "--width", "160", *endpoint)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"Trace {traced['good']}  1000.0 ms  2 segments, 1 subsegment")
    rows = lines[3:]
    assert [row.split()[0] for row in rows] == [traced["shop"], traced["db"], traced["pay"]]
    assert rows[1].startswith(f"  {traced['db']} [remote]")
    assert rows[1].endswith("300.0 ms ✗ fault: OperationalError")
    assert rows[2].startswith(f"  {traced['pay']} (Lambda::Function)")
    assert all(len(line) <= 160 for line in lines)

    code, out, _ = run(capsys, "trace", traced["good"], "--json", *endpoint)
    answer = json.loads(out)
    assert answer["Id"] == traced["good"] and len(answer["Segments"]) == 2
    assert {s["name"] for s in answer["Segments"]} == {traced["shop"], traced["pay"]}


def test_trace_command_unknown_ids(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    missing = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    code, out, err = run(capsys, "trace", missing, *endpoint)
    assert code == 1 and out == "" and err.startswith(f"gureum: no trace {missing}")
    code, out, err = run(capsys, "trace", "1-nope", *endpoint)
    assert code == 1 and out == "" and "is not a trace id" in err


def test_service_map_command(
    gureum_server: RunningServer, traced: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    code, out, _ = run(capsys, "service-map", *endpoint)
    assert code == 0
    rows = {tuple(line.split()[:2]): line.split() for line in out.splitlines() if line}
    # two requests: one failed with a fault; on average (1000 ms + 100 ms) / 2
    assert rows[(traced["shop"], "AWS::EC2::Instance")][2:] == [
        "2",
        "0.0%",
        "50.0%",
        "0.0%",
        "550.0",
    ]
    assert rows[(traced["db"], "Database::SQL")][2:] == ["1", "0.0%", "100.0%", "0.0%", "300.0"]
    calls = [line for line in out.splitlines() if "→" in line]
    assert any(
        line.split()[:7]
        == [
            traced["shop"],
            "(EC2::Instance)",
            "→",
            traced["pay"],
            "(Lambda::Function)",
            "1",
            "0.0%",
        ]
        for line in calls
    ), calls
    assert any(line.startswith(f"client → {traced['shop']} (EC2::Instance)") for line in calls)

    code, out, _ = run(capsys, "service-map", "--since", "1h", "--json", *endpoint)
    answer = json.loads(out)
    assert code == 0 and traced["shop"] in {s["Name"] for s in answer["Services"]}

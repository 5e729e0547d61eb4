"""Sandbox pieces that need no process."""

from __future__ import annotations

import pytest

from gureum.workers.runtime_api import error_type_of
from gureum.workers.sandbox import describe_exit


@pytest.mark.parametrize(
    ("returncode", "text"),
    [
        (1, "exit status 1"),
        (0, "exit status 0"),
        (-9, "signal: killed"),
        (-11, "signal: segmentation fault"),
        (-6, "signal: aborted"),
        (-15, "signal: terminated"),
    ],
)
def test_exit_descriptions(returncode: int, text: str) -> None:
    assert describe_exit(returncode) == text


def test_error_type_from_header_or_body() -> None:
    assert error_type_of(b'{"errorType": "X"}', None) == "X"
    assert error_type_of(b'{"errorType": "X"}', "Runtime.Y") == "Runtime.Y"
    assert error_type_of(b"not json", None) == "Runtime.Unknown"
    assert error_type_of(b"[1]", None) == "Runtime.Unknown"


def test_socket_owner_finds_the_client_end_of_a_connection() -> None:
    import os
    import socket

    from gureum.workers.runtime_api import socket_owner

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client:
            server_end, peer = listener.accept()
            with server_end:
                assert peer == client.getsockname()
                assert socket_owner(peer, server_end.getsockname()) == os.getuid()
                # the same client port towards another server is another connection
                assert socket_owner(peer, ("127.0.0.1", 1)) is None

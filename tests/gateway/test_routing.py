"""Route keys and API Gateway's choice among routes, without a server."""

from __future__ import annotations

import pytest

from gureum.errors import BadRequestException
from gureum.gateway.routing import match, route_key


@pytest.mark.parametrize(
    "text",
    ["GET", "FETCH /x", "GET x", "GET /a//b", "GET /{proxy+}/more", "GET /a{b}", "get /x"],
)
def test_route_keys_refused(text: str) -> None:
    with pytest.raises(BadRequestException):
        route_key(text)


def test_route_keys() -> None:
    key = route_key("ANY /users/{id}/{rest+}")
    assert key.method == "ANY" and key.segments == ("users", "{id}", "{rest+}")
    assert key.greedy and key.variables == 2
    assert route_key("$default").method is None
    assert route_key("GET /").segments == ()


def test_choice() -> None:
    routes = [
        (str(n), route_key(key))
        for n, key in enumerate(
            ["GET /", "GET /a/{x}", "GET /a/b", "ANY /a/{x}", "POST /{p+}", "GET /a/{x}/{y+}"]
        )
    ]
    assert match(routes, "GET", "/").route_id == "0"  # type: ignore[union-attr]
    assert match(routes, "GET", "/a/b").route_id == "2"  # type: ignore[union-attr]
    found = match(routes, "GET", "/a/c")
    assert found is not None and (found.route_id, found.path_parameters) == ("1", {"x": "c"})
    assert match(routes, "PUT", "/a/c").route_id == "3"  # type: ignore[union-attr]
    found = match(routes, "GET", "/a/c/d/e")
    assert found is not None and found.path_parameters == {"x": "c", "y": "d/e"}
    assert match(routes, "POST", "/") is None  # a greedy variable takes a segment at least
    assert match(routes, "DELETE", "/zz") is None  # and with no $default, nothing

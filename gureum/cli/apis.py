"""``gureum apis list|routes|url|create``: the API gateway's HTTP APIs through boto3's
``apigatewayv2`` client (and ``lambda``'s, to find a function's ARN).

An API is named on the command line by its id or by its name; a name must match exactly
one API. ``url`` prints the invoke URL alone on its line, for ``curl "$(gureum apis url
demo)/items"``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gureum.cli.client import (
    CLIError,
    add_client_options,
    call,
    make_client,
    print_json,
    print_table,
)

#: GetApis, GetRoutes, GetIntegrations and GetStages' MaxResults (at most 500); a
#: variable so that tests can make pages small.
PAGE_SIZE = 500
DEFAULT_STAGE = "$default"
_INVOCATIONS_PREFIX = "/functions/"
_INVOCATIONS_SUFFIX = "/invocations"


def _all_items(fn: Callable[..., Any], args: argparse.Namespace, **params: Any) -> list[Any]:
    """Every page's ``Items`` of a Get...s operation, following ``NextToken``."""
    items: list[Any] = []
    params["MaxResults"] = str(PAGE_SIZE)  # apigatewayv2's MaxResults is a string
    while True:
        page = call(fn, args, **params)
        items += page.get("Items", [])
        if not page.get("NextToken"):
            return items
        params["NextToken"] = page["NextToken"]


def _plain(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def _find_api(args: argparse.Namespace, gateway: Any) -> dict[str, Any]:
    """``args.api``: the API with that id, else the one API with that name."""
    apis = _all_items(gateway.get_apis, args)
    for api in apis:
        if api["ApiId"] == args.api:
            return dict(api)
    named = [api for api in apis if api.get("Name") == args.api]
    if not named:
        raise CLIError(f"no API has the id or name {args.api!r}")
    if len(named) > 1:
        ids = ", ".join(api["ApiId"] for api in named)
        raise CLIError(f"{len(named)} APIs are named {args.api!r} ({ids}): give its id")
    return dict(named[0])


def _function_of(uri: str) -> str:
    """The function an integration's ``IntegrationUri`` reaches: its name (with any
    qualifier), from a function ARN or its ``.../functions/ARN/invocations`` form."""
    arn = uri
    if uri.startswith("arn:aws:apigateway:") and uri.endswith(_INVOCATIONS_SUFFIX):
        arn = uri.partition(_INVOCATIONS_PREFIX)[2].removesuffix(_INVOCATIONS_SUFFIX)
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return ":".join(parts[6:])
    return uri or "-"


def cmd_apis_list(args: argparse.Namespace) -> int:
    apis = _all_items(make_client(args, "apigatewayv2").get_apis, args)
    if args.json:
        print_json(apis)
        return 0
    rows: list[tuple[str, ...]] = [("ID", "NAME", "PROTOCOL", "ENDPOINT")]
    for api in apis:
        rows.append(
            (
                api["ApiId"],
                api.get("Name", "-"),
                api.get("ProtocolType", "-"),
                api.get("ApiEndpoint", "-"),
            )
        )
    print_table(rows)
    return 0


def cmd_apis_routes(args: argparse.Namespace) -> int:
    gateway = make_client(args, "apigatewayv2")
    api_id = _find_api(args, gateway)["ApiId"]
    routes = _all_items(gateway.get_routes, args, ApiId=api_id)
    integrations = {
        integration["IntegrationId"]: integration
        for integration in _all_items(gateway.get_integrations, args, ApiId=api_id)
    }
    if args.json:
        print_json({"Routes": routes, "Integrations": list(integrations.values())})
        return 0
    rows: list[tuple[str, ...]] = [("ROUTE KEY", "TARGET", "FUNCTION")]
    for route in routes:
        target = route.get("Target", "")
        integration = integrations.get(target.removeprefix("integrations/"))
        function = _function_of(integration.get("IntegrationUri", "")) if integration else "-"
        rows.append((route["RouteKey"], target or "-", function))
    print_table(rows)
    return 0


def cmd_apis_url(args: argparse.Namespace) -> int:
    gateway = make_client(args, "apigatewayv2")
    api = _find_api(args, gateway)
    stages = [
        stage["StageName"] for stage in _all_items(gateway.get_stages, args, ApiId=api["ApiId"])
    ]
    if args.stage not in stages:
        known = ", ".join(stages) if stages else "none"
        raise CLIError(f"API {api['ApiId']} has no stage {args.stage!r} (its stages: {known})")
    url = (
        api["ApiEndpoint"] if args.stage == DEFAULT_STAGE else f"{api['ApiEndpoint']}/{args.stage}"
    )
    if args.json:
        print_json({"ApiId": api["ApiId"], "Stage": args.stage, "Url": url})
    else:
        print(url)
    return 0


def cmd_apis_create(args: argparse.Namespace) -> int:
    target = args.function
    if not target.startswith("arn:"):
        lam = make_client(args, "lambda")
        target = call(lam.get_function, args, FunctionName=target)["Configuration"]["FunctionArn"]
    params: dict[str, Any] = {"Name": args.name, "ProtocolType": "HTTP", "Target": target}
    if args.route_key:
        params["RouteKey"] = args.route_key
    created = _plain(call(make_client(args, "apigatewayv2").create_api, args, **params))
    if args.json:
        print_json(created)
    else:
        print(created["ApiEndpoint"])
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``apis`` and its actions to ``gureum``'s commands."""
    apis = commands.add_parser(
        "apis", help="HTTP APIs in front of functions: list, routes, invoke URLs, quick create"
    )
    actions = apis.add_subparsers(dest="apis_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every API: id, name, protocol, endpoint")
    listing.set_defaults(func=cmd_apis_list)

    routes = actions.add_parser("routes", help="an API's routes and the functions they reach")
    routes.add_argument("api", metavar="API", help="an API id, or a name only one API has")
    routes.set_defaults(func=cmd_apis_routes)

    url = actions.add_parser("url", help="an API's invoke URL, alone on a line")
    url.add_argument("api", metavar="API", help="an API id, or a name only one API has")
    url.add_argument(
        "--stage",
        default=DEFAULT_STAGE,
        help=f"the stage whose URL to print (default {DEFAULT_STAGE}, the endpoint itself)",
    )
    url.set_defaults(func=cmd_apis_url)

    create = actions.add_parser(
        "create", help="quick create: an HTTP API whose route reaches a function; prints its URL"
    )
    create.add_argument("name", metavar="NAME", help="the API's name")
    create.add_argument(
        "--function", required=True, help="the function: a name (looked up) or an ARN"
    )
    create.add_argument(
        "--route-key",
        help="the route's key, such as 'GET /items' (default $default, every request)",
    )
    create.set_defaults(func=cmd_apis_create)

    for action in (listing, routes, url, create):
        add_client_options(action)

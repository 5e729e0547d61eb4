"""The Lambda API (2015-03-31) as boto3's ``lambda`` client speaks it.

Control plane: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, GetAccountSettings,
Put/Get/DeleteFunctionConcurrency, PublishVersion, ListVersionsByFunction,
CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases, and
Put/Get/Delete/ListProvisionedConcurrencyConfig(s),
Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s), TagResource, UntagResource,
ListTags.
Data plane: Invoke (``RequestResponse``, ``Event`` and ``DryRun``).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gureum import untrusted_json
from gureum.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    ProvisionedConcurrencyConfigNotFoundException,
    RequestTooLargeException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.events import invoke_config
from gureum.front_end_invoke import Caller, FrontEndInvoke, InvocationType
from gureum.frontend.responses import (
    aws_json,
    json_body,
    limited_body,
    new_request_id,
    parse_json_object,
)
from gureum.functions.config import LATEST, FunctionVersion, function_arn, validate_tags
from gureum.functions.registry import FunctionRegistry, public_config

#: Lambda's synchronous request payload limit.
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
#: Lambda's asynchronous request payload limit (1 MB since October 2025).
MAX_ASYNC_PAYLOAD = 1024 * 1024
#: Lambda's limit on a base64-decoded ``X-Amz-Client-Context``.
MAX_CLIENT_CONTEXT = 3583
#: Lambda's direct-upload quota for CreateFunction/UpdateFunctionCode requests.
MAX_CODE_REQUEST = 70_167_211


async def _code_request(request: Request, operation: str) -> dict[str, Any]:
    return parse_json_object(await limited_body(request, MAX_CODE_REQUEST, operation))


def _max_items(raw: str) -> int:
    """A ``MaxItems`` query parameter (1-10000), as every List operation takes it."""
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise ValidationException(
            f"1 validation error detected: Value '{raw}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value between 1 and 10000"
        )
    return int(raw)


def _client_context(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        decoded = base64.b64decode(value, validate=True)
        if len(decoded) > MAX_CLIENT_CONTEXT:
            raise ValueError
        parsed = untrusted_json.loads(decoded)
        if not isinstance(parsed, dict):
            raise ValueError
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None
    return decoded.decode()


_JSON = (b"content-type", b"application/json")


def _validate_payload(payload: bytes) -> bytes:
    """The payload as the function gets it: JSON (an empty body is ``{}``)."""
    if not payload.strip():
        return b"{}"
    try:
        untrusted_json.loads(payload)
    except ValueError as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None
    return payload


_TAGGABLE_ARN = re.compile(
    r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}(-gov)?-[a-z]+-\d{1}:\d{12}:function:"
    r"[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


class ProvisionedStatus(Protocol):
    """What the API reads of provisioned sandboxes (the Worker Manager knows it)."""

    def provisioned_ready(self, name: str, version: str) -> int: ...

    def provisioning_error(self, name: str, version: str) -> str | None: ...


class LambdaAPI:
    """The Lambda API's handlers, over the registry (every control-plane change) and
    Front End Invoke (every invoke)."""

    def __init__(
        self,
        *,
        functions: FunctionRegistry,
        invoke: FrontEndInvoke,
        provisioned: ProvisionedStatus,
        region: str,
        account_id: str,
    ) -> None:
        self.functions = functions
        self.front_end = invoke
        self.provisioned = provisioned
        self.region = region
        self.account_id = account_id

    async def create_function(self, request: Request) -> Response:
        params = await _code_request(request, "CreateFunction")
        config = await self.functions.create(params)
        return aws_json(public_config(config), 201)

    async def get_function(self, request: Request) -> Response:
        function = self.functions.get(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        body: dict[str, Any] = {
            "Configuration": public_config(function.config),
            "Code": {
                "RepositoryType": "S3",
                "Location": f"{str(request.base_url).rstrip('/')}/_gureum/code/"
                f"{function.code_sha256_hex}.zip",
            },
        }
        metadata = function.metadata
        if metadata.tags:
            body["Tags"] = metadata.tags
        reserved = metadata.reserved_concurrency
        if reserved is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return aws_json(body)

    async def get_function_configuration(self, request: Request) -> Response:
        function = self.functions.get(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        return aws_json(public_config(function.config))

    async def list_functions(self, request: Request) -> Response:
        query = request.query_params
        if query.get("FunctionVersion") not in (None, "ALL"):
            raise ValidationException(
                f"1 validation error detected: Value '{query.get('FunctionVersion')}' at "
                "'functionVersion' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ALL]"
            )
        max_items = _max_items(query.get("MaxItems", "50"))
        configs, next_marker = self.functions.list_page(
            query.get("Marker"), max_items, all_versions=query.get("FunctionVersion") == "ALL"
        )
        body: dict[str, Any] = {"Functions": [public_config(c) for c in configs]}
        if next_marker:
            body["NextMarker"] = next_marker
        return aws_json(body)

    async def publish_version(self, request: Request) -> Response:
        params = await json_body(request)
        config = await self.functions.publish(request.path_params["name"], params)
        return aws_json(public_config(config), 201)

    async def list_versions_by_function(self, request: Request) -> Response:
        query = request.query_params
        max_items = _max_items(query.get("MaxItems", "50"))
        versions = self.functions.versions(request.path_params["name"])
        marker = query.get("Marker")
        if marker:
            names = [v["Version"] for v in versions]
            versions = versions[names.index(marker) + 1 :] if marker in names else []
        page = versions[:max_items]
        body: dict[str, Any] = {"Versions": [public_config(v) for v in page]}
        if len(versions) > len(page):
            body["NextMarker"] = page[-1]["Version"]
        return aws_json(body)

    async def create_alias(self, request: Request) -> Response:
        params = await json_body(request)
        alias = await self.functions.create_alias(request.path_params["name"], params)
        return aws_json(alias, 201)

    async def get_alias(self, request: Request) -> Response:
        functions = self.functions
        return aws_json(
            functions.get_alias(request.path_params["name"], request.path_params["alias"])
        )

    async def update_alias(self, request: Request) -> Response:
        params = await json_body(request)
        alias = await self.functions.update_alias(
            request.path_params["name"], request.path_params["alias"], params
        )
        return aws_json(alias)

    async def delete_alias(self, request: Request) -> Response:
        await self.functions.delete_alias(request.path_params["name"], request.path_params["alias"])
        return aws_json(None, 204)

    async def list_aliases(self, request: Request) -> Response:
        query = request.query_params
        max_items = _max_items(query.get("MaxItems", "50"))
        aliases = self.functions.list_aliases(
            request.path_params["name"], query.get("FunctionVersion")
        )
        marker = query.get("Marker")
        if marker:
            aliases = [alias for alias in aliases if alias["Name"] > marker]
        page = aliases[:max_items]
        body: dict[str, Any] = {"Aliases": page}
        if len(aliases) > len(page):
            body["NextMarker"] = page[-1]["Name"]
        return aws_json(body)

    async def update_function_configuration(self, request: Request) -> Response:
        params = await json_body(request)
        config = await self.functions.update_configuration(request.path_params["name"], params)
        return aws_json(public_config(config))

    async def update_function_code(self, request: Request) -> Response:
        params = await _code_request(request, "UpdateFunctionCode")
        config = await self.functions.update_code(request.path_params["name"], params)
        return aws_json(public_config(config))

    async def delete_function(self, request: Request) -> Response:
        await self.functions.delete(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        return aws_json(None, 204)

    async def get_account_settings(self, request: Request) -> Response:
        functions, _ = self.functions.list_page(None, 10000)
        limits = self.functions.limits
        unreserved = limits.account - sum(self.functions.reservations().values())
        return aws_json(
            {
                "AccountLimit": {
                    "TotalCodeSize": 80530636800,
                    "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800,
                    "ConcurrentExecutions": limits.account,
                    "UnreservedConcurrentExecutions": unreserved,
                },
                "AccountUsage": {
                    "TotalCodeSize": sum(int(c.get("CodeSize", 0)) for c in functions),
                    "FunctionCount": len(functions),
                },
            }
        )

    async def download_code(self, request: Request) -> Response:
        """The ``Code.Location`` of GetFunction: the function's zip."""
        digest = request.path_params["digest"]
        path = (
            self.functions.code.zip_path(digest) if len(digest) == 64 and digest.isalnum() else None
        )
        if path is None or not path.is_file():
            raise ResourceNotFoundException("No code with that digest.")
        return FileResponse(path, media_type="application/zip")

    async def put_function_concurrency(self, request: Request) -> Response:
        params = await json_body(request)
        value = params.get("ReservedConcurrentExecutions")
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidParameterValueException(
                "ReservedConcurrentExecutions is required and must be an integer."
            )
        function = self.functions.get(request.path_params["name"])
        await self.functions.set_reserved_concurrency(function.name, value)
        return aws_json({"ReservedConcurrentExecutions": value})

    async def get_function_concurrency(self, request: Request) -> Response:
        reserved = self.functions.reserved_concurrency(request.path_params["name"])
        return aws_json({} if reserved is None else {"ReservedConcurrentExecutions": reserved})

    async def delete_function_concurrency(self, request: Request) -> Response:
        function = self.functions.get(request.path_params["name"])
        await self.functions.set_reserved_concurrency(function.name, None)
        return aws_json(None, 204)

    def _provisioned_status(
        self, target: FunctionVersion, config: dict[str, Any]
    ) -> dict[str, Any]:
        requested = int(config["Requested"])
        ready = min(self.provisioned.provisioned_ready(target.name, target.version), requested)
        error = self.provisioned.provisioning_error(target.name, target.version)
        status = "READY" if ready >= requested else ("FAILED" if error else "IN_PROGRESS")
        body = {
            "RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": ready,
            "AllocatedProvisionedConcurrentExecutions": ready,
            "Status": status,
            "LastModified": config["LastModified"],
        }
        if status == "FAILED" and error:
            body["StatusReason"] = error
        return body

    async def put_provisioned_concurrency(self, request: Request) -> Response:
        name, qualifier = request.path_params["name"], request.query_params.get("Qualifier")
        params = await json_body(request)
        requested = params.get("ProvisionedConcurrentExecutions")
        if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
            raise InvalidParameterValueException(
                "ProvisionedConcurrentExecutions must be an integer of at least 1."
            )
        target = await self.functions.set_provisioned(name, str(qualifier), requested)
        config = self.functions.provisioned_configs(name)[str(qualifier)]
        return aws_json(self._provisioned_status(target, config), 202)

    async def get_provisioned_concurrency(self, request: Request) -> Response:
        name = request.path_params["name"]
        if request.query_params.get("List") == "ALL":
            items = []
            for qualifier, config in sorted(self.functions.provisioned_configs(name).items()):
                target = self.functions.provisioning_target(name, qualifier)
                arn = function_arn(self.region, self.account_id, target.name, qualifier)
                items.append({"FunctionArn": arn, **self._provisioned_status(target, config)})
            return aws_json({"ProvisionedConcurrencyConfigs": items})
        wanted = request.query_params.get("Qualifier")
        chosen = self.functions.provisioning_target(name, wanted)
        found = self.functions.provisioned_configs(name).get(str(wanted))
        if found is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return aws_json(self._provisioned_status(chosen, found))

    async def delete_provisioned_concurrency(self, request: Request) -> Response:
        name, qualifier = request.path_params["name"], request.query_params.get("Qualifier")
        self.functions.provisioning_target(name, qualifier)
        if str(qualifier) not in self.functions.provisioned_configs(name):
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        await self.functions.set_provisioned(name, str(qualifier), None)
        return aws_json(None, 204)

    async def invoke(
        self,
        name: str,
        query: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Invoke: (status, headers, body) of the answer to ``POST .../{name}/invocations``.

        The edge calls this straight from the ASGI scope (``headers``: names in lower case),
        without Starlette's request and response objects: it is the hot path."""
        qualifier = None
        if query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            qualifier = dict(pairs).get("Qualifier") or None
        raw_type = headers.get(b"x-amz-invocation-type")
        invocation_type = raw_type.decode("latin-1") if raw_type else "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ValidationException(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]"
            )
        raw_log = headers.get(b"x-amz-log-type")
        log_type = raw_log.decode("latin-1") if raw_log else "None"
        if log_type not in ("None", "Tail"):
            raise ValidationException(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Tail, None]"
            )
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        if len(body) > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        payload = _validate_payload(body)
        raw_context = headers.get(b"x-amz-client-context")
        client_context = _client_context(raw_context.decode("latin-1") if raw_context else None)
        raw_trace = headers.get(b"x-amzn-trace-id")
        trace_header = raw_trace.decode("latin-1") if raw_trace else None
        request_id = new_request_id()
        id_header = (b"x-amzn-requestid", request_id.encode())
        caller = Caller(request_id, trace_header, client_context, tail=log_type == "Tail")
        kind: InvocationType = invocation_type  # type: ignore[assignment]  # (checked above)
        invoked = await self.front_end.invoke(name, qualifier, payload, kind, caller)
        outcome = invoked.outcome
        if outcome is None:  # accepted (Event) or only checked (DryRun)
            if invocation_type == "DryRun":
                return 204, [id_header], b""
            return 202, [id_header, (b"content-length", b"0")], b""
        answer = [
            id_header,
            (b"x-amz-executed-version", (invoked.function.version or LATEST).encode()),
            (b"content-length", str(len(outcome.body)).encode()),
            _JSON,
        ]
        if outcome.function_error:
            answer.append((b"x-amz-function-error", outcome.function_error.encode()))
        if log_type == "Tail":
            answer.append((b"x-amz-log-result", base64.b64encode(outcome.log_tail)))
        return 200, answer, outcome.body

    # asynchronous invocation settings

    def _event_invoke_arn(self, name: str, qualifier: str) -> str:
        return function_arn(self.region, self.account_id, name, qualifier)

    def _no_event_invoke_config(self, name: str, qualifier: str) -> Exception:
        arn = self._event_invoke_arn(name, qualifier)
        return ResourceNotFoundException(f"The function {arn} doesn't have an EventInvokeConfig")

    async def _put_event_invoke_config(self, request: Request, *, merge: bool) -> Response:
        name, qualifier = self.functions.event_invoke_target(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        changes = invoke_config.validate(await json_body(request))
        current = self.functions.event_invoke_configs(name).get(qualifier)
        if merge:
            if current is None:
                raise self._no_event_invoke_config(name, qualifier)
            stored = invoke_config.merged(current, changes)
        else:
            stored = changes
        stored["LastModified"] = time.time()
        await self.functions.set_event_invoke_config(name, qualifier, stored)
        return aws_json(invoke_config.shape(stored, self._event_invoke_arn(name, qualifier)))

    async def put_event_invoke_config(self, request: Request) -> Response:
        return await self._put_event_invoke_config(request, merge=False)

    async def update_event_invoke_config(self, request: Request) -> Response:
        return await self._put_event_invoke_config(request, merge=True)

    async def get_event_invoke_config(self, request: Request) -> Response:
        name, qualifier = self.functions.event_invoke_target(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        stored = self.functions.event_invoke_configs(name).get(qualifier)
        if stored is None:
            raise self._no_event_invoke_config(name, qualifier)
        return aws_json(invoke_config.shape(stored, self._event_invoke_arn(name, qualifier)))

    async def delete_event_invoke_config(self, request: Request) -> Response:
        name, qualifier = self.functions.event_invoke_target(
            request.path_params["name"], request.query_params.get("Qualifier")
        )
        if qualifier not in self.functions.event_invoke_configs(name):
            raise self._no_event_invoke_config(name, qualifier)
        await self.functions.set_event_invoke_config(name, qualifier, None)
        return aws_json(None, 204)

    async def list_event_invoke_configs(self, request: Request) -> Response:
        name, _ = self.functions.event_invoke_target(request.path_params["name"], None)
        limit = _max_items(request.query_params.get("MaxItems", "50"))
        if limit > 50:
            raise ValidationException(
                f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy "
                "constraint: Member must have value less than or equal to 50"
            )
        marker = request.query_params.get("Marker")
        configs = sorted(self.functions.event_invoke_configs(name).items())
        if marker:
            configs = [(q, c) for q, c in configs if q > marker]
        page = configs[:limit]
        body: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [
                invoke_config.shape(c, self._event_invoke_arn(name, q)) for q, c in page
            ]
        }
        if len(configs) > limit:
            body["NextMarker"] = page[-1][0]
        return aws_json(body)

    # tags

    def _tagged_function(self, arn: str) -> str:
        """The function a tagging call names by its ARN (tags are a function's, not a
        version's or an alias's, as on Lambda)."""
        if not _TAGGABLE_ARN.fullmatch(arn):
            raise ValidationException(
                f"1 validation error detected: Value '{arn}' at 'resource' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                + _TAGGABLE_ARN.pattern
            )
        ref = self.functions.ref(arn)
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                f"Tags apply to a function, not to one of its versions or aliases: {arn}"
            )
        return self.functions.get(ref.name).name

    async def tag_resource(self, request: Request) -> Response:
        name = self._tagged_function(request.path_params["arn"])
        tags = (await json_body(request)).get("Tags")
        if tags is None:
            raise InvalidParameterValueException("Tags are required.")
        await self.functions.set_tags(name, validate_tags(tags))
        return aws_json(None, 204)

    async def untag_resource(self, request: Request) -> Response:
        name = self._tagged_function(request.path_params["arn"])
        keys = request.query_params.getlist("tagKeys")
        if not keys:
            raise InvalidParameterValueException("TagKeys are required.")
        await self.functions.set_tags(name, {}, keys)
        return aws_json(None, 204)

    async def list_tags(self, request: Request) -> Response:
        name = self._tagged_function(request.path_params["arn"])
        return aws_json({"Tags": self.functions.tags(name)})

    def routes(self) -> list[Route]:
        prefix = "/2015-03-31/functions"
        return [
            Route(prefix, self.create_function, methods=["POST"]),
            Route(prefix + "/", self.list_functions, methods=["GET"]),
            Route(prefix, self.list_functions, methods=["GET"]),
            Route(prefix + "/{name}", self.get_function, methods=["GET"]),
            Route(prefix + "/{name}", self.delete_function, methods=["DELETE"]),
            Route(
                prefix + "/{name}/configuration", self.get_function_configuration, methods=["GET"]
            ),
            Route(
                prefix + "/{name}/configuration",
                self.update_function_configuration,
                methods=["PUT"],
            ),
            Route(prefix + "/{name}/code", self.update_function_code, methods=["PUT"]),
            Route(prefix + "/{name}/aliases", self.create_alias, methods=["POST"]),
            Route(prefix + "/{name}/aliases", self.list_aliases, methods=["GET"]),
            Route(prefix + "/{name}/aliases/{alias}", self.get_alias, methods=["GET"]),
            Route(prefix + "/{name}/aliases/{alias}", self.update_alias, methods=["PUT"]),
            Route(prefix + "/{name}/aliases/{alias}", self.delete_alias, methods=["DELETE"]),
            Route(prefix + "/{name}/versions", self.publish_version, methods=["POST"]),
            Route(prefix + "/{name}/versions", self.list_versions_by_function, methods=["GET"]),
            Route("/2017-03-31/tags/{arn}", self.tag_resource, methods=["POST"]),
            Route("/2017-03-31/tags/{arn}", self.untag_resource, methods=["DELETE"]),
            Route("/2017-03-31/tags/{arn}", self.list_tags, methods=["GET"]),
            Route(
                "/2017-10-31/functions/{name}/concurrency",
                self.put_function_concurrency,
                methods=["PUT"],
            ),
            Route(
                "/2017-10-31/functions/{name}/concurrency",
                self.delete_function_concurrency,
                methods=["DELETE"],
            ),
            Route(
                "/2019-09-30/functions/{name}/concurrency",
                self.get_function_concurrency,
                methods=["GET"],
            ),
            Route(
                "/2019-09-30/functions/{name}/provisioned-concurrency",
                self.put_provisioned_concurrency,
                methods=["PUT"],
            ),
            Route(
                "/2019-09-30/functions/{name}/provisioned-concurrency",
                self.get_provisioned_concurrency,
                methods=["GET"],
            ),
            Route(
                "/2019-09-30/functions/{name}/provisioned-concurrency",
                self.delete_provisioned_concurrency,
                methods=["DELETE"],
            ),
            Route(
                "/2019-09-25/functions/{name}/event-invoke-config",
                self.put_event_invoke_config,
                methods=["PUT"],
            ),
            Route(
                "/2019-09-25/functions/{name}/event-invoke-config",
                self.update_event_invoke_config,
                methods=["POST"],
            ),
            Route(
                "/2019-09-25/functions/{name}/event-invoke-config",
                self.get_event_invoke_config,
                methods=["GET"],
            ),
            Route(
                "/2019-09-25/functions/{name}/event-invoke-config",
                self.delete_event_invoke_config,
                methods=["DELETE"],
            ),
            Route(
                "/2019-09-25/functions/{name}/event-invoke-config/list",
                self.list_event_invoke_configs,
                methods=["GET"],
            ),
            Route("/2016-08-19/account-settings", self.get_account_settings, methods=["GET"]),
            Route("/2016-08-19/account-settings/", self.get_account_settings, methods=["GET"]),
            Route("/_gureum/code/{digest}.zip", self.download_code, methods=["GET"]),
        ]

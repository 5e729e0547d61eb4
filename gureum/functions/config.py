"""A function's configuration: validation of what clients send, and the shape AWS answers.

Pure functions and dataclasses (no I/O), so every constraint is tested without a server.
Constraint violations answer ``ValidationException`` with AWS's wording; semantic
problems answer ``InvalidParameterValueException``; parts of the API gureum lacks answer
``NotImplementedException`` rather than being accepted and ignored.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gureum.errors import (
    InvalidParameterValueException,
    NotImplementedException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.events.invoke_config import Target, parse_target
from gureum.functions.layer_rules import FunctionLayer, function_layer_arns
from gureum.runtimes import KNOWN_UNSUPPORTED, PROVIDED_RUNTIMES, SUPPORTED_RUNTIMES

LATEST = "$LATEST"
#: The tag that gives a function no network at all (gureum's own setting).
NETWORK_TAG = "gureum:network"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FUNCTION_REF_RE = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)
QUALIFIER_RE = re.compile(r"^(\$LATEST|[a-zA-Z0-9_-]{1,128})$")
ROLE_RE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+$")
ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
HANDLER_RE = re.compile(r"^[^\s]{1,128}$")
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
ENV_LIMIT_BYTES = 4096
DEFAULTS: dict[str, Any] = {
    "Description": "",
    "Timeout": 3,
    "MemorySize": 128,
    "EphemeralStorage": {"Size": 512},
    "TracingConfig": {"Mode": "PassThrough"},
    "Architectures": ["x86_64"],
}
#: Configuration members UpdateFunctionConfiguration may change.
UPDATABLE = (
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Runtime",
    "TracingConfig",
    "EphemeralStorage",
    "DeadLetterConfig",
    "Layers",
)


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function named in a request: plain name, partial ARN or full ARN, maybe qualified."""

    name: str
    qualifier: str | None


def parse_function_ref(value: str, qualifier: str | None, region: str, account: str) -> FunctionRef:
    """Resolve ``FunctionName`` (+ ``Qualifier``) as Lambda does."""
    match = FUNCTION_REF_RE.match(value)
    if match is None or len(value) > 170:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    if qualifier is not None and not QUALIFIER_RE.match(qualifier):
        raise ValidationException(
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(|[a-zA-Z0-9$_-]+)"
        )
    name = match.group("name")
    if len(name) > 64:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
            "constraint: Member must have length less than or equal to 64"
        )
    if (match.group("region") not in (None, region)) or (
        match.group("account") not in (None, account)
    ):
        raise ResourceNotFoundException(
            f"Function not found: {function_arn(region, account, name, match.group('qualifier'))}"
        )
    derived = match.group("qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(name, derived or qualifier)


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def last_modified(now: datetime | None = None) -> str:
    """Lambda's ``LastModified`` format: ``2020-04-10T19:06:32.563+0000``."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _constraint(value: Any, member: str, rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def _int_in(params: dict[str, Any], key: str, member: str, low: int, high: int) -> None:
    if key not in params or params[key] is None:
        return
    value = params[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise _constraint(value, member, "Member must be an integer")
    if value < low:
        raise _constraint(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _constraint(value, member, f"Member must have value less than or equal to {high}")


def validate_settings(params: dict[str, Any]) -> dict[str, Any]:
    """Validate the configuration members shared by create and update; return them."""
    out: dict[str, Any] = {}
    if "Role" in params and params["Role"] is not None:
        role = params["Role"]
        if not isinstance(role, str) or not ROLE_RE.match(role):
            raise _constraint(
                role,
                "role",
                "Member must satisfy regular expression pattern: "
                "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            )
        out["Role"] = role
    if "Runtime" in params and params["Runtime"] is not None:
        runtime = params["Runtime"]
        if runtime in KNOWN_UNSUPPORTED:
            raise InvalidParameterValueException(
                f"The runtime {runtime} is not supported by gureum yet; supported runtimes: "
                f"{', '.join(SUPPORTED_RUNTIMES)}."
            )
        if runtime not in SUPPORTED_RUNTIMES:
            raise _constraint(
                runtime,
                "runtime",
                "Member must satisfy enum value set: [" + ", ".join(SUPPORTED_RUNTIMES) + "]",
            )
        out["Runtime"] = runtime
    if "Handler" in params and params["Handler"] is not None:
        handler = params["Handler"]
        if not isinstance(handler, str) or not HANDLER_RE.match(handler):
            raise _constraint(
                handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+"
            )
        out["Handler"] = handler
    if "Description" in params and params["Description"] is not None:
        description = params["Description"]
        if not isinstance(description, str) or len(description) > 256:
            raise _constraint(
                description, "description", "Member must have length less than or equal to 256"
            )
        out["Description"] = description
    _int_in(params, "MemorySize", "memorySize", 128, 10240)
    _int_in(params, "Timeout", "timeout", 1, 900)
    for key in ("MemorySize", "Timeout"):
        if params.get(key) is not None:
            out[key] = params[key]
    if params.get("EphemeralStorage") is not None:
        storage = params["EphemeralStorage"]
        size = storage.get("Size") if isinstance(storage, dict) else None
        if not isinstance(size, int) or isinstance(size, bool):
            raise InvalidParameterValueException("EphemeralStorage requires an integer Size.")
        _int_in({"Size": size}, "Size", "ephemeralStorage.size", 512, 10240)
        out["EphemeralStorage"] = {"Size": size}
    if params.get("Environment") is not None:
        out["Environment"] = {"Variables": validate_environment(params["Environment"])}
    if params.get("TracingConfig") is not None:
        mode = (params["TracingConfig"] or {}).get("Mode", "PassThrough")
        if mode not in ("Active", "PassThrough"):
            raise _constraint(
                mode,
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            )
        out["TracingConfig"] = {"Mode": mode}
    if params.get("DeadLetterConfig") is not None:
        dead_letter = params["DeadLetterConfig"]
        target = dead_letter.get("TargetArn") if isinstance(dead_letter, dict) else None
        if target:
            if parse_target(target, "deadLetterConfig.targetArn").kind != "sqs":
                raise InvalidParameterValueException(
                    f"The dead-letter target {target} is not supported by gureum: "
                    "dead-letter queues are gureum queues (arn:aws:sqs:...)."
                )
            out["DeadLetterConfig"] = {"TargetArn": target}
        else:
            out["DeadLetterConfig"] = {}  # removes it
    if params.get("Layers") is not None:
        function_layer_arns(params["Layers"])  # resolved by the registry: see requested_layers
    if params.get("SnapStart") is not None:
        snap = params["SnapStart"]
        apply_on = snap.get("ApplyOn", "None") if isinstance(snap, dict) else snap
        if apply_on not in ("PublishedVersions", "None"):
            raise _constraint(
                apply_on,
                "snapStart.applyOn",
                "Member must satisfy enum value set: [PublishedVersions, None]",
            )
        out["SnapStart"] = {"ApplyOn": apply_on, "OptimizationStatus": "Off"}
    return out


#: Lambda's limits on a function's tags.
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def validate_tags(tags: Any) -> dict[str, str]:
    """Tags as Lambda takes them (keys of 1-128 characters, not starting ``aws:``;
    values of up to 256; at most 50); ``gureum:network`` must be ``default`` or ``none``."""
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise InvalidParameterValueException("Tags must be a map of strings to strings.")
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise InvalidParameterValueException(
                f"Tag key {key!r} must be 1 to {MAX_TAG_KEY} characters long."
            )
        if len(value) > MAX_TAG_VALUE:
            raise InvalidParameterValueException(
                f"The value of tag {key!r} must be at most {MAX_TAG_VALUE} characters long."
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValueException(
                f"Tag keys starting with 'aws:' are reserved for AWS use: {key!r}."
            )
    check_tag_count(tags)
    if tags.get(NETWORK_TAG, "default") not in ("default", "none"):
        raise InvalidParameterValueException(
            f"The tag {NETWORK_TAG} must be 'default' (the host's network) or 'none' "
            f"(no network), not {tags[NETWORK_TAG]!r}."
        )
    return dict(tags)


def check_tag_count(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValueException(
            f"A function can have at most {MAX_TAGS} tags; this would give it {len(tags)}."
        )


def validate_environment(environment: Any) -> dict[str, str]:
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidParameterValueException("Environment.Variables must be a map of strings.")
    for key, value in variables.items():
        if not isinstance(key, str) or not ENV_KEY_RE.match(key):
            raise _constraint(
                key,
                "environment.variables",
                "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
            )
        if not isinstance(value, str):
            raise InvalidParameterValueException(f"The value of variable {key} must be a string.")
    reserved = sorted(k for k in variables if k in RESERVED_ENV)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    encoded = json.dumps(variables, separators=(",", ":"))
    if len(encoded.encode()) > ENV_LIMIT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. "
            f"String measured: {encoded[:200]}..."
        )
    return dict(variables)


def require_zip_code(code: Any) -> str:
    """The base64 ``ZipFile`` of a ``Code`` member (other sources are not supported yet)."""
    if not isinstance(code, dict):
        raise InvalidParameterValueException("Code is required: provide Code.ZipFile.")
    if code.get("ImageUri"):
        raise NotImplementedException("Container image functions are not supported by gureum yet.")
    if code.get("S3Bucket") or code.get("S3Key"):
        raise NotImplementedException(
            "S3 code locations are not supported by gureum yet; upload the zip as ZipFile."
        )
    zip_file = code.get("ZipFile")
    if not isinstance(zip_file, str) or not zip_file:
        raise InvalidParameterValueException("Code is required: provide Code.ZipFile.")
    return zip_file


def new_configuration(
    params: dict[str, Any], *, region: str, account: str, code_sha256: str, code_size: int
) -> dict[str, Any]:
    """The FunctionConfiguration of a function created from CreateFunction ``params``."""
    name = params.get("FunctionName")
    if not isinstance(name, str):
        raise InvalidParameterValueException("FunctionName is required.")
    ref = parse_function_ref(name, None, region, account)
    if ref.qualifier is not None:
        raise InvalidParameterValueException("FunctionName cannot be qualified when creating it.")
    if params.get("PackageType", "Zip") != "Zip":
        raise NotImplementedException("Container image functions are not supported by gureum yet.")
    if not params.get("Role"):
        raise InvalidParameterValueException("Role is required.")
    settings = validate_settings(params)
    if "Runtime" not in settings:
        raise InvalidParameterValueException("Runtime is required for .zip file functions.")
    if "Handler" not in settings and settings["Runtime"] not in PROVIDED_RUNTIMES:
        raise InvalidParameterValueException("Handler is required for .zip file functions.")
    architectures = params.get("Architectures") or ["x86_64"]
    if architectures not in (["x86_64"], ["arm64"]):
        raise _constraint(
            architectures, "architectures", "Member must satisfy enum value set: [x86_64, arm64]"
        )
    config: dict[str, Any] = {
        "FunctionName": ref.name,
        "FunctionArn": function_arn(region, account, ref.name),
        **{k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()},
        **settings,
        "Architectures": list(architectures),
        "CodeSize": code_size,
        "CodeSha256": code_sha256,
        "Version": LATEST,
        "LastModified": last_modified(),
        "RevisionId": str(uuid.uuid4()),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "SnapStart": settings.get("SnapStart", {"ApplyOn": "None", "OptimizationStatus": "Off"}),
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{ref.name}"},
    }
    config.setdefault("Handler", None)
    if config["Handler"] is None:
        del config["Handler"]
    if not config.get("DeadLetterConfig", True):
        del config["DeadLetterConfig"]
    check_snap_start(config)
    return config


#: Runtimes Lambda offers SnapStart on (of those gureum runs).
SNAP_START_RUNTIMES = ("python3.12", "python3.13", "python3.14")


def requested_layers(params: dict[str, Any]) -> list[str] | None:
    """The layer version ARNs a create or update names, checked (None: it names none;
    an empty list removes the function's layers)."""
    value = params.get("Layers")
    return None if value is None else function_layer_arns(value)


def with_layers(config: dict[str, Any], layers: list[FunctionLayer]) -> dict[str, Any]:
    """``config`` using ``layers`` in order: ``Layers`` as Lambda shows it, and where
    their code is (gureum's metadata); no layers removes both."""
    updated = with_metadata(config, layer_digests=[layer.code_sha256_hex for layer in layers])
    updated.pop("Layers", None)
    if layers:
        updated["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in layers]
    return updated


def check_snap_start(config: dict[str, Any]) -> None:
    """SnapStart only where Lambda has it: Python 3.12 and later."""
    snap = config.get("SnapStart") or {}
    if snap.get("ApplyOn") == "PublishedVersions" and config.get("Runtime") not in (
        SNAP_START_RUNTIMES
    ):
        raise InvalidParameterValueException(
            f"{config.get('Runtime')} is not supported for SnapStart enabled functions."
        )


def updated_configuration(current: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The configuration after UpdateFunctionConfiguration ``params``."""
    changes = validate_settings(params)
    config = {**current, **changes}
    if "Environment" in changes and not changes["Environment"]["Variables"]:
        config.pop("Environment", None)
    if "DeadLetterConfig" in changes and not changes["DeadLetterConfig"]:
        config.pop("DeadLetterConfig", None)
    if config.get("Runtime") not in PROVIDED_RUNTIMES and not config.get("Handler"):
        raise InvalidParameterValueException("Handler is required for .zip file functions.")
    check_snap_start(config)
    config["LastModified"] = last_modified()
    config["RevisionId"] = str(uuid.uuid4())
    return config


def with_code(current: dict[str, Any], code_sha256: str, code_size: int) -> dict[str, Any]:
    """The configuration after UpdateFunctionCode with new code."""
    return {
        **current,
        "CodeSha256": code_sha256,
        "CodeSize": code_size,
        "LastModified": last_modified(),
        "RevisionId": str(uuid.uuid4()),
    }


@dataclass(frozen=True, slots=True)
class FunctionMetadata:
    """gureum's own metadata of a function version: what other components act on
    (reserved and provisioned concurrency, tags, asynchronous invocation settings) and
    the bookkeeping of versions. It is stored inside the version's configuration under
    private keys that the API never shows; this class and :func:`with_metadata` are the
    only code that knows those keys."""

    #: ReservedConcurrentExecutions ($LATEST only; None: no reservation).
    reserved_concurrency: int | None = None
    #: qualifier -> {"Requested": n, "LastModified": ...} ($LATEST only).
    provisioned: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The function's tags (written to every version).
    tags: dict[str, str] = field(default_factory=dict)
    #: qualifier -> stored EventInvokeConfig ($LATEST only).
    event_invoke_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The number of the newest published version ($LATEST only).
    last_version: int = 0
    #: The RevisionId of $LATEST a published version was made from.
    published_from: str | None = None
    #: Where the code of the version's ``Layers`` is, in their order (hex digests).
    layer_digests: list[str] = field(default_factory=list)


#: FunctionMetadata's field -> the private key it is stored under.
_METADATA_KEYS = {
    "reserved_concurrency": "_ReservedConcurrency",
    "provisioned": "_Provisioned",
    "tags": "_Tags",
    "event_invoke_configs": "_EventInvokeConfigs",
    "last_version": "_LastVersion",
    "published_from": "_PublishedFrom",
    "layer_digests": "_LayerDigests",
}
#: What a published version does not inherit from $LATEST.
LATEST_ONLY = ("reserved_concurrency", "provisioned", "event_invoke_configs", "last_version")


def metadata_of(config: dict[str, Any]) -> FunctionMetadata:
    """The metadata stored in a version's configuration."""
    found = {name: config[key] for name, key in _METADATA_KEYS.items() if key in config}
    for name in ("provisioned", "tags", "event_invoke_configs"):
        found[name] = dict(found.get(name) or {})
    found["layer_digests"] = list(found.get("layer_digests") or [])
    return FunctionMetadata(**found)


def with_metadata(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``config`` with metadata fields changed (an empty or None value removes the key)."""
    unknown = set(changes) - set(_METADATA_KEYS)
    if unknown:
        raise TypeError(f"not metadata: {sorted(unknown)}")
    keys = {_METADATA_KEYS[name] for name in changes}
    updated = {k: v for k, v in config.items() if k not in keys}
    for name, value in changes.items():
        if value not in (None, {}, [], 0) or (name == "reserved_concurrency" and value == 0):
            updated[_METADATA_KEYS[name]] = value
    return updated


@dataclass(frozen=True, slots=True)
class FunctionVersion:
    """A function version as the invoke path needs it: configuration plus where its code is."""

    config: dict[str, Any]
    code_sha256_hex: str

    @property
    def metadata(self) -> FunctionMetadata:
        return metadata_of(self.config)

    @property
    def name(self) -> str:
        return str(self.config["FunctionName"])

    @property
    def version(self) -> str:
        return str(self.config["Version"])

    @property
    def revision_id(self) -> str:
        return str(self.config["RevisionId"])

    @property
    def arn(self) -> str:
        return str(self.config["FunctionArn"])

    @property
    def runtime(self) -> str:
        return str(self.config["Runtime"])

    @property
    def snap_start(self) -> bool:
        """A published version whose sandboxes restore from a snapshot of its init."""
        snap = self.config.get("SnapStart") or {}
        return self.version != LATEST and snap.get("OptimizationStatus") == "On"

    @property
    def layer_digests(self) -> tuple[str, ...]:
        """The code of the version's layers (hex digests), in the order they apply."""
        return tuple(self.config.get(_METADATA_KEYS["layer_digests"]) or ())

    @property
    def handler(self) -> str:
        return str(self.config.get("Handler", ""))

    @property
    def memory_size(self) -> int:
        return int(self.config["MemorySize"])

    @property
    def timeout(self) -> int:
        return int(self.config["Timeout"])

    @property
    def ephemeral_storage_mb(self) -> int:
        """The size of the sandbox's ``/tmp``."""
        return int(self.config.get("EphemeralStorage", {}).get("Size", 512))

    @property
    def environment(self) -> dict[str, str]:
        return dict((self.config.get("Environment") or {}).get("Variables") or {})

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def network(self) -> str:
        """``default`` (the host's network, as on Lambda) or ``none`` (tag gureum:network)."""
        return str((self.config.get(_METADATA_KEYS["tags"]) or {}).get(NETWORK_TAG, "default"))

    @property
    def tracing_active(self) -> bool:
        """``TracingConfig: {Mode: Active}``: the platform samples and traces invokes."""
        return (self.config.get("TracingConfig") or {}).get("Mode") == "Active"

    @property
    def dead_letter_queue(self) -> Target | None:
        """The version's DeadLetterConfig target (a built-in queue), if it has one."""
        arn = (self.config.get("DeadLetterConfig") or {}).get("TargetArn")
        return parse_target(arn, "deadLetterConfig.targetArn") if arn else None

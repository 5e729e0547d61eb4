"""Lambda layers' rules: names and ARNs, what PublishLayerVersion and the permission
operations accept, the shapes Lambda answers, and a function's ``Layers``.

Pure functions and dataclasses (no I/O but reading botocore's model of Lambda once, for
its list of runtimes), so every rule is tested without a server. Constraint violations
answer ``ValidationException`` in the words of Lambda's validation layer; semantic
problems ``InvalidParameterValueException``, as Lambda does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.loaders import create_loader

from gureum.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    NotImplementedException,
    ResourceNotFoundException,
    ValidationException,
)

#: Layers one function may reference.
MAX_FUNCTION_LAYERS = 5
#: ListLayers' and ListLayerVersions' largest page (and their default).
MAX_LIST_ITEMS = 50
ARCHITECTURES = ("x86_64", "arm64")
LAYER_NAME_PATTERN = (
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)
_LAYER_NAME_RE = re.compile(
    r"(?:arn:(?P<partition>[a-zA-Z0-9-]+):lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<arn_name>[a-zA-Z0-9_-]+))|(?P<name>[a-zA-Z0-9_-]+)"
)
#: A layer version's ARN as GetLayerVersionByArn takes it.
VERSION_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+"
)
#: ... and as a function's ``Layers`` take it.
FUNCTION_LAYER_PATTERN = (
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)
_VERSION_ARN_RE = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(?:-gov|-isob?)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9_-]+):(?P<version>[0-9]+)"
)
STATEMENT_ID_PATTERN = "([a-zA-Z0-9-_]+)"
PRINCIPAL_PATTERN = r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root"
ORGANIZATION_PATTERN = "o-[a-z0-9]{10,32}"
ACTION = "lambda:GetLayerVersion"
NOT_FOUND = "The resource you requested does not exist."
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetLayerPolicy API to retrieve the latest Revision Id"
)


@functools.cache
def lambda_runtimes() -> tuple[str, ...]:
    """Every runtime identifier Lambda knows (botocore's model, which clients build from)."""
    model = create_loader().load_service_model("lambda", "service-2")
    return tuple(model["shapes"]["Runtime"]["enum"])


def created_date(now: datetime | None = None) -> str:
    """Lambda's ``CreatedDate`` format: ``2018-11-14T23:03:52.894+0000``."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def layer_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


def layer_version_arn(region: str, account: str, name: str, version: int) -> str:
    return f"{layer_arn(region, account, name)}:{version}"


def _validation(problems: Sequence[str]) -> ValidationException:
    """Lambda's validation error, naming each broken constraint."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return ValidationException(f"{count} validation {noun} detected: " + "; ".join(problems))


def _problem(value: Any, member: str, rule: str) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: {rule}"


def _listed(values: Sequence[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _name_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return _problem(value, "layerName", "Member must have length greater than or equal to 1")
    if len(value) > 140:
        return _problem(value, "layerName", "Member must have length less than or equal to 140")
    if not _LAYER_NAME_RE.fullmatch(value):
        return _problem(
            value,
            "layerName",
            f"Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}",
        )
    return None


def layer_name(value: str, region: str, account: str) -> str:
    """The name of the layer ``LayerName`` names (a name or the layer's ARN).

    An ARN of another region's or account's layer names nothing here: gureum is one
    account in one region."""
    problem = _name_problem(value)
    if problem:
        raise _validation([problem])
    match = _LAYER_NAME_RE.fullmatch(value)
    assert match is not None
    if match.group("name"):
        return match.group("name")
    if match.group("region") != region or match.group("account") != account:
        raise ResourceNotFoundException(NOT_FOUND)
    return match.group("arn_name")


def version_number(raw: str | int) -> int:
    """A ``VersionNumber`` path parameter: an integer of at least 1."""
    try:
        number = int(raw)
    except ValueError:
        raise _validation([_problem(raw, "versionNumber", "Member must be a number")]) from None
    if number < 1:
        raise InvalidParameterValueException("Layer Version Cannot be less than 1")
    return number


@dataclass(frozen=True, slots=True)
class VersionArn:
    """A layer version's ARN, taken apart."""

    region: str
    account: str
    name: str
    version: int

    @property
    def layer_arn(self) -> str:
        return layer_arn(self.region, self.account, self.name)


def parse_version_arn(arn: Any) -> VersionArn:
    """GetLayerVersionByArn's ``Arn``."""
    match = _VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 140 else None
    if match is None:
        raise _validation(
            [
                _problem(
                    arn,
                    "arn",
                    f"Member must satisfy regular expression pattern: {VERSION_ARN_PATTERN}",
                )
            ]
        )
    return VersionArn(
        match.group("region"), match.group("account"), match.group("name"), int(match["version"])
    )


# PublishLayerVersion


@dataclass(frozen=True, slots=True)
class LayerVersionRequest:
    """A checked PublishLayerVersion request (its zip still to be stored)."""

    zip_file: str
    description: str
    license_info: str | None
    compatible_runtimes: tuple[str, ...]
    compatible_architectures: tuple[str, ...]


def _string_problem(params: dict[str, Any], key: str, member: str, most: int) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        return _problem(value, member, "Member must be a string")
    if len(value) > most:
        return _problem(value, member, f"Member must have length less than or equal to {most}")
    return None


def _runtimes_problem(runtimes: Any) -> str | None:
    if runtimes is None:
        return None
    if not isinstance(runtimes, list) or not all(isinstance(r, str) for r in runtimes):
        return _problem(runtimes, "compatibleRuntimes", "Member must be a list of strings")
    if len(runtimes) > 15:
        return _problem(
            _listed(runtimes),
            "compatibleRuntimes",
            "Member must have length less than or equal to 15",
        )
    if set(runtimes) - set(lambda_runtimes()):
        return _problem(
            _listed(runtimes),
            "compatibleRuntimes",
            f"Member must satisfy enum value set: {_listed(lambda_runtimes())}",
        )
    return None


def _architectures_problem(architectures: Any) -> str | None:
    if architectures is None:
        return None
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        return _problem(
            architectures, "compatibleArchitectures", "Member must be a list of strings"
        )
    if len(architectures) > 2:
        return _problem(
            _listed(architectures),
            "compatibleArchitectures",
            "Member must have length less than or equal to 2",
        )
    if set(architectures) - set(ARCHITECTURES):
        return _problem(
            _listed(architectures),
            "compatibleArchitectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
        )
    return None


def publish_request(layer: str, params: dict[str, Any]) -> LayerVersionRequest:
    """PublishLayerVersion's ``params``, checked as Lambda checks them."""
    problems = [
        problem
        for problem in (
            _name_problem(layer),
            _string_problem(params, "Description", "description", 256),
            _string_problem(params, "LicenseInfo", "licenseInfo", 512),
            _runtimes_problem(params.get("CompatibleRuntimes")),
            _architectures_problem(params.get("CompatibleArchitectures")),
        )
        if problem
    ]
    if problems:
        raise _validation(problems)
    content = params.get("Content")
    if not isinstance(content, dict):
        raise InvalidParameterValueException("Missing Content")
    if content.get("S3Bucket") or content.get("S3Key") or content.get("S3ObjectVersion"):
        raise NotImplementedException(
            "S3 code locations are not supported by gureum yet; upload the zip as ZipFile."
        )
    zip_file = content.get("ZipFile")
    if not isinstance(zip_file, str) or not zip_file:
        raise InvalidParameterValueException("Missing Content")
    return LayerVersionRequest(
        zip_file=zip_file,
        description=params.get("Description") or "",
        license_info=params.get("LicenseInfo"),
        compatible_runtimes=tuple(params.get("CompatibleRuntimes") or ()),
        compatible_architectures=tuple(params.get("CompatibleArchitectures") or ()),
    )


# ListLayers and ListLayerVersions


@dataclass(frozen=True, slots=True)
class ListFilter:
    """ListLayers' and ListLayerVersions' filters and page size."""

    runtime: str | None
    architecture: str | None
    max_items: int

    def admits(self, runtimes: Sequence[str], architectures: Sequence[str]) -> bool:
        """A version with these compatibilities matches (a filter names one of them)."""
        return (self.runtime is None or self.runtime in runtimes) and (
            self.architecture is None or self.architecture in architectures
        )


def list_filter(query: dict[str, str]) -> ListFilter:
    """The filters of a List request's query, checked as Lambda checks them."""
    problems = []
    runtime = query.get("CompatibleRuntime")
    if runtime is not None and runtime not in lambda_runtimes():
        problems.append(
            _problem(
                runtime,
                "compatibleRuntime",
                f"Member must satisfy enum value set: {_listed(lambda_runtimes())}",
            )
        )
    architecture = query.get("CompatibleArchitecture")
    if architecture is not None and architecture not in ARCHITECTURES:
        problems.append(
            _problem(
                architecture,
                "compatibleArchitecture",
                "Member must satisfy enum value set: [x86_64, arm64]",
            )
        )
    raw = query.get("MaxItems", str(MAX_LIST_ITEMS))
    if not raw.lstrip("-").isdigit():
        problems.append(_problem(raw, "maxItems", "Member must be a number"))
    elif int(raw) < 1:
        problems.append(
            _problem(raw, "maxItems", "Member must have value greater than or equal to 1")
        )
    elif int(raw) > MAX_LIST_ITEMS:
        problems.append(
            _problem(
                raw, "maxItems", f"Member must have value less than or equal to {MAX_LIST_ITEMS}"
            )
        )
    if problems:
        raise _validation(problems)
    return ListFilter(runtime, architecture, int(raw))


# the shapes Lambda answers


@dataclass(frozen=True, slots=True)
class LayerVersion:
    """One published layer version, as stored."""

    name: str
    version: int
    layer_arn: str
    description: str
    created_date: str
    compatible_runtimes: tuple[str, ...]
    compatible_architectures: tuple[str, ...]
    license_info: str | None
    #: AWS's ``CodeSha256`` (base64) and the zip's size.
    code_sha256: str
    code_size: int
    #: The zip's name in the code store (hex SHA-256) and what it unpacks to.
    code_sha256_hex: str
    unzipped_size: int

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def list_item(self) -> dict[str, Any]:
        """The version as ListLayerVersions (and ListLayers' ``LatestMatchingVersion``)
        shows it."""
        item: dict[str, Any] = {
            "LayerVersionArn": self.arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created_date,
        }
        if self.compatible_runtimes:
            item["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.license_info is not None:
            item["LicenseInfo"] = self.license_info
        if self.compatible_architectures:
            item["CompatibleArchitectures"] = list(self.compatible_architectures)
        return item

    def shape(self, location: str) -> dict[str, Any]:
        """The version as PublishLayerVersion and GetLayerVersion answer it; ``location``
        is where its zip downloads from."""
        return {
            "Content": {
                "Location": location,
                "CodeSha256": self.code_sha256,
                "CodeSize": self.code_size,
            },
            "LayerArn": self.layer_arn,
            **self.list_item(),
        }


# permissions (the layer version's resource-based policy)


def permission_statement(params: dict[str, Any], resource: str) -> tuple[str, dict[str, Any]]:
    """AddLayerVersionPermission's statement id and policy statement, checked."""
    sid, action = params.get("StatementId"), params.get("Action")
    principal, organization = params.get("Principal"), params.get("OrganizationId")
    problems = []
    sid_problem = statement_id_problem(sid)
    if sid_problem:
        problems.append(sid_problem)
    if not isinstance(action, str) or len(action) > 22 or action != ACTION:
        problems.append(
            _problem(action, "action", f"Member must satisfy regular expression pattern: {ACTION}")
        )
    if not isinstance(principal, str) or not re.fullmatch(PRINCIPAL_PATTERN, principal):
        problems.append(
            _problem(
                principal,
                "principal",
                f"Member must satisfy regular expression pattern: {PRINCIPAL_PATTERN}",
            )
        )
    if organization is not None and (
        not isinstance(organization, str)
        or len(organization) > 34
        or not re.fullmatch(ORGANIZATION_PATTERN, organization)
    ):
        problems.append(
            _problem(
                organization,
                "organizationId",
                f"Member must satisfy regular expression pattern: {ORGANIZATION_PATTERN}",
            )
        )
    if problems:
        raise _validation(problems)
    assert isinstance(sid, str) and isinstance(principal, str)
    who: str | dict[str, str]
    if principal == "*":
        who = "*"
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"AWS": f"arn:aws:iam::{principal}:root"}
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": who,
        "Action": ACTION,
        "Resource": resource,
    }
    if organization:
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization}}
    return sid, statement


def statement_id_problem(sid: Any) -> str | None:
    if not isinstance(sid, str) or not sid:
        return _problem(sid, "statementId", "Member must have length greater than or equal to 1")
    if len(sid) > 100:
        return _problem(sid, "statementId", "Member must have length less than or equal to 100")
    if not re.fullmatch(STATEMENT_ID_PATTERN, sid):
        return _problem(
            sid,
            "statementId",
            f"Member must satisfy regular expression pattern: {STATEMENT_ID_PATTERN}",
        )
    return None


def check_statement_id(sid: Any) -> str:
    problem = statement_id_problem(sid)
    if problem:
        raise _validation([problem])
    return str(sid)


def policy_document(statements: Sequence[dict[str, Any]]) -> str:
    """GetLayerVersionPolicy's ``Policy``: the statements as an IAM policy document."""
    document = {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}
    return json.dumps(document, separators=(",", ":"))


def statement_text(statement: dict[str, Any]) -> str:
    """AddLayerVersionPermission's ``Statement``: the statement as JSON text."""
    return json.dumps(statement, separators=(",", ":"))


# a function's Layers


@dataclass(frozen=True, slots=True)
class FunctionLayer:
    """A layer version a function uses: what its configuration shows (ARN, zip size)
    and where its code is (the zip's hex digest, and what it unpacks to)."""

    arn: str
    code_size: int
    code_sha256_hex: str
    unzipped_size: int


def function_layer_arns(value: Any) -> list[str]:
    """CreateFunction's or UpdateFunctionConfiguration's ``Layers``: at most 5 layer
    version ARNs, no two of one layer (an empty list removes them)."""
    if not isinstance(value, list):
        raise _validation([_problem(value, "layers", "Member must be a list")])
    for arn in value:
        if (
            not isinstance(arn, str)
            or not 1 <= len(arn) <= 140
            or not _VERSION_ARN_RE.fullmatch(arn)
        ):
            raise _validation(
                [
                    _problem(
                        f"[{arn}]",
                        "layers",
                        "Member must satisfy constraint: [Member must have length less than or "
                        "equal to 140, Member must have length greater than or equal to 1, "
                        f"Member must satisfy regular expression pattern: {FUNCTION_LAYER_PATTERN}"
                        ", Member must not be null]",
                    )
                ]
            )
    if len(value) > MAX_FUNCTION_LAYERS:
        raise InvalidParameterValueException(
            f"Cannot reference more than {MAX_FUNCTION_LAYERS} layers."
        )
    seen: dict[str, str] = {}
    for arn in value:
        layer = arn.rpartition(":")[0]
        if layer in seen:
            raise InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {seen[layer]} and {arn} are versions of the same layer."
            )
        seen[layer] = arn
    return list(value)


def check_layer_home(arn: str, region: str, account: str) -> VersionArn:
    """A function's layer version must be in its region; another account's is not the
    caller's to use (gureum is one account: nothing is shared with it)."""
    parsed = parse_version_arn(arn)
    if parsed.region != region:
        raise InvalidParameterValueException(
            "Layers are not in the same region as the function. "
            f"Layers are expected to be in region {region}."
        )
    if parsed.account != account:
        raise AccessDeniedException(
            f"User: arn:aws:iam::{account}:root is not authorized to perform: "
            f"lambda:GetLayerVersion on resource: {arn} because no resource-based policy "
            "allows the lambda:GetLayerVersion action"
        )
    return parsed


def layer_version_missing(arn: str) -> InvalidParameterValueException:
    """A function names a layer version that does not exist (or was deleted)."""
    return InvalidParameterValueException(f"Layer version {arn} does not exist.")


#: Lambda's limit on a function's unpacked code and layers together (250 MB).
MAX_COMBINED_SIZE = 262_144_000


def check_combined_size(sizes: Sequence[int], limit: int = MAX_COMBINED_SIZE) -> None:
    """The function's unpacked code plus its layers' must fit Lambda's limit."""
    total = sum(sizes)
    if total > limit:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {limit} "
            f"bytes. The actual size is {total} bytes."
        )

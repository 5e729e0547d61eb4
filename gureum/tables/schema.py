"""A table's schema: what CreateTable and UpdateTable accept, and what DescribeTable shows.

Pure (no I/O). :func:`create_spec` checks a CreateTable request as DynamoDB does (its
ValidationException wording) and gives the spec the store keeps as JSON;
:class:`TableSchema` reads a spec back: the table's key and its indexes, each able to
give an item's key bytes, so that the store can write an item's own row and its index
entries. :func:`describe` gives DynamoDB's TableDescription of a spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gureum.tables.values import (
    INVALID,
    SCALAR_KEY_TYPES,
    AttributeValue,
    Item,
    ValidationError,
    check_key_attribute,
    key_bytes,
    validate_item,
    value_type,
)

TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
INDEX_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
MAX_GLOBAL_INDEXES = 20
MAX_LOCAL_INDEXES = 5
MAX_PROJECTED_ATTRIBUTES = 100
VIEW_TYPES = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
PROJECTION_TYPES = ("ALL", "KEYS_ONLY", "INCLUDE")
BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")


def constraint(value: object, member: str, rule: str) -> ValidationError:
    """DynamoDB's message for a member that breaks its model's constraint."""
    shown = "null" if value is None else value
    return ValidationError(
        f"1 validation error detected: Value '{shown}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def check_table_name(name: object, member: str = "tableName") -> str:
    if name is None:
        raise ValidationError(
            f"1 validation error detected: Value null at '{member}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if not isinstance(name, str):
        raise ValidationError(f"Invalid table name: {name!r}")
    if len(name) < 3:
        raise constraint(name, member, "Member must have length greater than or equal to 3")
    if len(name) > 255 and not name.startswith("arn:"):
        raise constraint(name, member, "Member must have length less than or equal to 255")
    if not TABLE_NAME.fullmatch(name) and not name.startswith("arn:aws:dynamodb:"):
        raise constraint(
            name, member, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
    return name


@dataclass(frozen=True, slots=True)
class KeySchema:
    """A table's or an index's key: the partition (HASH) and sort (RANGE) attributes."""

    partition: str
    sort: str | None
    #: attribute name -> S, N or B, for both key attributes
    types: Mapping[str, str]

    @property
    def attributes(self) -> tuple[str, ...]:
        return (self.partition,) if self.sort is None else (self.partition, self.sort)

    def wire(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.partition, "KeyType": "HASH"}]
        if self.sort is not None:
            schema.append({"AttributeName": self.sort, "KeyType": "RANGE"})
        return schema


@dataclass(frozen=True, slots=True)
class Index:
    """A secondary index: its key, what it projects, whether it is global."""

    name: str
    is_global: bool
    key: KeySchema
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: tuple[str, ...]

    def entry_key(self, item: Mapping[str, AttributeValue]) -> tuple[bytes, bytes] | None:
        """(partition, sort) key bytes of the item's entry; None: the item has no entry
        (an index is sparse: an item without its key attributes is not in it)."""
        partition = item.get(self.key.partition)
        if partition is None or value_type(partition) != self.key.types[self.key.partition]:
            return None
        if self.key.sort is None:
            return key_bytes(partition), b""
        sort = item.get(self.key.sort)
        if sort is None or value_type(sort) != self.key.types[self.key.sort]:
            return None
        return key_bytes(partition), key_bytes(sort)

    def project(self, item: Mapping[str, AttributeValue], table_key: KeySchema) -> Item:
        """The attributes of ``item`` that the index holds."""
        if self.projection == "ALL":
            return dict(item)
        keep = {*table_key.attributes, *self.key.attributes}
        if self.projection == "INCLUDE":
            keep.update(self.non_key_attributes)
        return {name: value for name, value in item.items() if name in keep}

    def wire_projection(self) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": self.projection}
        if self.projection == "INCLUDE":
            projection["NonKeyAttributes"] = list(self.non_key_attributes)
        return projection


class TableSchema:
    """A stored spec, read: the table's key, its indexes, its stream and TTL settings."""

    def __init__(
        self, name: str, table_id: str, spec: Mapping[str, Any], created_ms: int = 0
    ) -> None:
        self.name = name
        self.table_id = table_id
        self.spec = spec
        self.created_ms = created_ms
        types = {d["AttributeName"]: d["AttributeType"] for d in spec["AttributeDefinitions"]}
        self.attribute_types: dict[str, str] = types
        self.key = _key_schema(spec["KeySchema"], types)
        self.indexes: dict[str, Index] = {}
        for kind, is_global in (("LocalSecondaryIndexes", False), ("GlobalSecondaryIndexes", True)):
            for index in spec.get(kind, ()):
                projection = index["Projection"]
                self.indexes[index["IndexName"]] = Index(
                    index["IndexName"],
                    is_global,
                    _key_schema(index["KeySchema"], types),
                    projection.get("ProjectionType", "ALL"),
                    tuple(projection.get("NonKeyAttributes", ())),
                )
        stream = spec.get("StreamSpecification") or {}
        self.stream_view_type: str | None = (
            stream.get("StreamViewType") if stream.get("StreamEnabled") else None
        )
        self.stream_arn: str | None = spec.get("LatestStreamArn") if self.stream_view_type else None
        ttl = spec.get("TimeToLive") or {}
        self.ttl_attribute: str | None = (
            ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None
        )

    def index(self, name: str) -> Index:
        index = self.indexes.get(name)
        if index is None:
            raise ValidationError("The table does not have the specified index: " + name)
        return index

    def item_key(self, item: Mapping[str, AttributeValue]) -> tuple[bytes, bytes]:
        """The (partition, sort) key bytes of an item to write, checked as PutItem checks
        them: present, of the schema's type, within the key size limits; index key
        attributes present in the item must be of their index's type."""
        for attribute in self.key.attributes:
            if attribute not in item:
                raise ValidationError(INVALID + f"Missing the key {attribute} in the item")
            check_key_attribute(
                attribute,
                item[attribute],
                self.key.types[attribute],
                partition=attribute == self.key.partition,
            )
        for index in self.indexes.values():
            for attribute in index.key.attributes:
                value = item.get(attribute)
                if value is None or attribute in self.key.attributes:
                    continue
                expected, actual = index.key.types[attribute], value_type(value)
                if actual != expected:
                    raise ValidationError(
                        INVALID + f"Type mismatch for Index Key {attribute} Expected: "
                        f"{expected} Actual: {actual} IndexName: {index.name}"
                    )
                check_key_attribute(
                    attribute, value, expected, partition=attribute == index.key.partition
                )
        return self.key_bytes(item)

    def key_bytes(self, key: Mapping[str, AttributeValue]) -> tuple[bytes, bytes]:
        partition = key_bytes(key[self.key.partition])
        return partition, b"" if self.key.sort is None else key_bytes(key[self.key.sort])

    def check_key(self, key: object, member: str = "Key") -> Item:
        """A request's Key (GetItem, DeleteItem, UpdateItem): exactly the table's key
        attributes, of their types."""
        if not isinstance(key, Mapping):
            raise ValidationError("The provided key element does not match the schema")
        checked = validate_item(key)
        if set(checked) != set(self.key.attributes):
            raise ValidationError("The provided key element does not match the schema")
        for attribute, value in checked.items():
            if value_type(value) != self.key.types[attribute]:
                raise ValidationError("The provided key element does not match the schema")
            check_key_attribute(
                attribute,
                value,
                self.key.types[attribute],
                partition=attribute == self.key.partition,
            )
        return checked

    def key_of(self, item: Mapping[str, AttributeValue], index: Index | None = None) -> Item:
        """The key attributes of ``item``: the table's, and the index's with ``index``
        (what LastEvaluatedKey holds)."""
        names = list(self.key.attributes)
        if index is not None:
            names += [name for name in index.key.attributes if name not in names]
        return {name: item[name] for name in names if name in item}


def _key_schema(elements: list[Mapping[str, str]], types: Mapping[str, str]) -> KeySchema:
    partition = elements[0]["AttributeName"]
    sort = elements[1]["AttributeName"] if len(elements) > 1 else None
    names = (partition,) if sort is None else (partition, sort)
    return KeySchema(partition, sort, {name: types[name] for name in names})


# CreateTable and UpdateTable


def check_key_schema(raw: object, member: str, types: Mapping[str, str]) -> list[dict[str, str]]:
    """A KeySchema: one HASH element, then at most one RANGE, each defined."""
    if not isinstance(raw, list) or not raw:
        if raw is None:
            raise constraint(None, member, "Member must not be null")
        raise constraint(raw, member, "Member must have length greater than or equal to 1")
    if len(raw) > 2:
        raise constraint(raw, member, "Member must have length less than or equal to 2")
    elements: list[dict[str, str]] = []
    for element in raw:
        if not isinstance(element, Mapping):
            raise ValidationError("Invalid KeySchema: each element must be a structure")
        name, kind = element.get("AttributeName"), element.get("KeyType")
        if not isinstance(name, str) or not name:
            raise ValidationError("Invalid KeySchema: AttributeName must be given")
        if kind not in ("HASH", "RANGE"):
            raise constraint(
                kind,
                f"{member}.{len(elements) + 1}.member.keyType",
                "Member must satisfy enum value set: [HASH, RANGE]",
            )
        elements.append({"AttributeName": name, "KeyType": kind})
    if elements[0]["KeyType"] != "HASH":
        raise ValidationError(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    if len(elements) == 2:
        if elements[1]["KeyType"] != "RANGE":
            raise ValidationError(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        if elements[0]["AttributeName"] == elements[1]["AttributeName"]:
            raise ValidationError(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )
    missing = [e["AttributeName"] for e in elements if e["AttributeName"] not in types]
    if missing:
        raise ValidationError(
            INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(e['AttributeName'] for e in elements)}], "
            f"AttributeDefinitions: [{', '.join(types)}]"
        )
    return elements


def check_attribute_definitions(raw: object) -> dict[str, str]:
    if raw is None:
        raise constraint(None, "attributeDefinitions", "Member must not be null")
    if not isinstance(raw, list):
        raise ValidationError("AttributeDefinitions must be a list")
    types: dict[str, str] = {}
    for position, definition in enumerate(raw, 1):
        if not isinstance(definition, Mapping):
            raise ValidationError("AttributeDefinitions must be structures")
        name, kind = definition.get("AttributeName"), definition.get("AttributeType")
        if not isinstance(name, str) or not name:
            raise ValidationError("Invalid AttributeDefinition: AttributeName must be given")
        if kind not in SCALAR_KEY_TYPES:
            raise constraint(
                kind,
                f"attributeDefinitions.{position}.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
            )
        if name in types:
            raise ValidationError(
                INVALID + f"Duplicate AttributeName: {name} in AttributeDefinitions"
            )
        types[name] = kind
    return types


def check_throughput(raw: object, what: str = "") -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise ValidationError("ProvisionedThroughput must be a structure")
    checked = {}
    for member in ("ReadCapacityUnits", "WriteCapacityUnits"):
        value = raw.get(member)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(
                INVALID
                + "ReadCapacityUnits and WriteCapacityUnits must both be specified"
                + (f" for index: {what}" if what else "")
            )
        if value < 1:
            raise constraint(
                value,
                f"provisionedThroughput.{member[0].lower() + member[1:]}",
                "Member must have value greater than or equal to 1",
            )
        checked[member] = value
    return checked


def check_projection(raw: object, index: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError(INVALID + f"Projection is not specified for index: {index}")
    kind = raw.get("ProjectionType", "ALL")
    if kind not in PROJECTION_TYPES:
        raise ValidationError(INVALID + f"Unknown ProjectionType: {kind}")
    attributes = raw.get("NonKeyAttributes")
    if kind == "INCLUDE":
        if not isinstance(attributes, list) or not attributes:
            raise ValidationError(
                INVALID + "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
            )
        if not all(isinstance(a, str) and a for a in attributes):
            raise ValidationError(INVALID + "NonKeyAttributes must be attribute names")
        if len(attributes) > MAX_PROJECTED_ATTRIBUTES:
            raise ValidationError(
                INVALID + "The number of projected attributes exceeds the limit of 100"
            )
        return {"ProjectionType": kind, "NonKeyAttributes": list(attributes)}
    if attributes is not None:
        raise ValidationError(
            INVALID + f"ProjectionType is {kind}, but NonKeyAttributes is specified"
        )
    return {"ProjectionType": kind}


def check_index(
    raw: object,
    *,
    is_global: bool,
    types: Mapping[str, str],
    table_key: list[dict[str, str]],
    billing: str,
) -> dict[str, Any]:
    kind = "GlobalSecondaryIndexes" if is_global else "LocalSecondaryIndexes"
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{kind} members must be structures")
    name = raw.get("IndexName")
    if not isinstance(name, str) or not INDEX_NAME.fullmatch(name):
        raise constraint(
            name,
            f"{kind[0].lower() + kind[1:]}.member.indexName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            if isinstance(name, str) and len(name) >= 3
            else "Member must have length greater than or equal to 3",
        )
    key = check_key_schema(raw.get("KeySchema"), f"{kind}.{name}.keySchema", types)
    if not is_global:
        if len(table_key) < 2:
            raise ValidationError(
                INVALID + "Table KeySchema does not have a range key, which is required when "
                "specifying a LocalSecondaryIndex"
            )
        if len(key) < 2:
            raise ValidationError(
                INVALID + f"Index KeySchema must have a range key for index: {name}"
            )
        if key[0]["AttributeName"] != table_key[0]["AttributeName"]:
            raise ValidationError(
                INVALID + "Index KeySchema does not have the same leading hash key as table "
                f"KeySchema for index: {name}. index hash key: {key[0]['AttributeName']}, "
                f"table hash key: {table_key[0]['AttributeName']}"
            )
    index: dict[str, Any] = {
        "IndexName": name,
        "KeySchema": key,
        "Projection": check_projection(raw.get("Projection"), name),
    }
    if is_global:
        throughput = raw.get("ProvisionedThroughput")
        if billing == "PROVISIONED":
            if throughput is None:
                raise ValidationError(
                    INVALID + f"ProvisionedThroughput is not specified for index: {name}"
                )
            index["ProvisionedThroughput"] = check_throughput(throughput, name)
        elif throughput is not None:
            raise ValidationError(
                INVALID + "One or more provisioned throughput for the index is invalid: "
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
    return index


def check_stream(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationError("StreamSpecification must be a structure")
    enabled = raw.get("StreamEnabled")
    if not isinstance(enabled, bool):
        raise constraint(enabled, "streamSpecification.streamEnabled", "Member must not be null")
    view = raw.get("StreamViewType")
    if enabled:
        if view is None:
            raise ValidationError(
                INVALID + "You must specify a StreamViewType when enabling a stream"
            )
        if view not in VIEW_TYPES:
            raise constraint(
                view,
                "streamSpecification.streamViewType",
                "Member must satisfy enum value set: "
                "[NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]",
            )
        return {"StreamEnabled": True, "StreamViewType": view}
    if view is not None:
        raise ValidationError(
            INVALID + "You cannot specify a StreamViewType when disabling a stream"
        )
    return {"StreamEnabled": False}


def check_tags(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValidationError("Tags must be a list")
    tags: dict[str, str] = {}
    for tag in raw:
        if not isinstance(tag, Mapping):
            raise ValidationError("Tags must be structures")
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise constraint(
                key, "tags.member.key", "Member must have length less than or equal to 128"
            )
        if not isinstance(value, str) or len(value) > 256:
            raise constraint(
                value, "tags.member.value", "Member must have length less than or equal to 256"
            )
        if key.startswith("aws:"):
            raise ValidationError("Tag keys starting with 'aws:' are reserved for system use")
        tags[key] = value
    if len(tags) > 50:
        raise ValidationError("Too many tags: a resource can have at most 50")
    return tags


def check_billing(params: Mapping[str, Any]) -> tuple[str, dict[str, int] | None]:
    billing = params.get("BillingMode", "PROVISIONED")
    if billing not in BILLING_MODES:
        raise constraint(
            billing,
            "billingMode",
            "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        )
    throughput = params.get("ProvisionedThroughput")
    if billing == "PAY_PER_REQUEST":
        if throughput is not None:
            raise ValidationError(
                INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                "when BillingMode is PAY_PER_REQUEST"
            )
        return billing, None
    if throughput is None:
        raise ValidationError("No provisioned throughput specified for the table")
    return billing, check_throughput(throughput)


def create_spec(params: Mapping[str, Any]) -> dict[str, Any]:
    """A CreateTable request checked; the spec the store keeps for the table."""
    check_table_name(params.get("TableName"))
    types = check_attribute_definitions(params.get("AttributeDefinitions"))
    key = check_key_schema(params.get("KeySchema"), "keySchema", types)
    billing, throughput = check_billing(params)
    spec: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in types.items()
        ],
        "KeySchema": key,
        "BillingMode": billing,
    }
    if throughput is not None:
        spec["ProvisionedThroughput"] = throughput
    used = {e["AttributeName"] for e in key}
    names: set[str] = set()
    for kind, is_global, limit in (
        ("LocalSecondaryIndexes", False, MAX_LOCAL_INDEXES),
        ("GlobalSecondaryIndexes", True, MAX_GLOBAL_INDEXES),
    ):
        raw = params.get(kind)
        if raw is None:
            continue
        if not isinstance(raw, list) or not raw:
            raise ValidationError(INVALID + f"List of {kind} is empty")
        if len(raw) > limit:
            raise ValidationError(
                INVALID + f"{kind}: the number of indexes exceeds the limit of {limit}"
            )
        indexes = []
        for index in raw:
            checked = check_index(
                index, is_global=is_global, types=types, table_key=key, billing=billing
            )
            if checked["IndexName"] in names:
                raise ValidationError(INVALID + f"Duplicate index name: {checked['IndexName']}")
            names.add(checked["IndexName"])
            used.update(e["AttributeName"] for e in checked["KeySchema"])
            indexes.append(checked)
        spec[kind] = indexes
    if set(types) != used:
        if not names:
            raise ValidationError(
                INVALID + "Number of attributes in KeySchema does not exactly match number of "
                "attributes defined in AttributeDefinitions"
            )
        raise ValidationError(
            INVALID + "Some AttributeDefinitions are not used. AttributeDefinitions: "
            f"[{', '.join(types)}], keys used: [{', '.join(sorted(used))}]"
        )
    stream = check_stream(params.get("StreamSpecification"))
    if stream is not None and stream["StreamEnabled"]:
        spec["StreamSpecification"] = stream
    spec["Tags"] = check_tags(params.get("Tags"))
    protection = params.get("DeletionProtectionEnabled", False)
    if not isinstance(protection, bool):
        raise ValidationError("DeletionProtectionEnabled must be true or false")
    spec["DeletionProtectionEnabled"] = protection
    table_class = params.get("TableClass", "STANDARD")
    if table_class not in ("STANDARD", "STANDARD_INFREQUENT_ACCESS"):
        raise constraint(
            table_class,
            "tableClass",
            "Member must satisfy enum value set: [STANDARD, STANDARD_INFREQUENT_ACCESS]",
        )
    spec["TableClass"] = table_class
    return spec


# DescribeTable


def describe(
    name: str,
    table_id: str,
    spec: Mapping[str, Any],
    *,
    created_ms: int,
    status: str,
    region: str,
    account_id: str,
    counts: Mapping[str, tuple[int, int]] | None = None,
    index_status: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """DynamoDB's TableDescription. ``counts``: index name ('' for the table) ->
    (item count, size in bytes)."""
    counts = counts or {}
    arn = table_arn(name, region, account_id)
    items, size = counts.get("", (0, 0))
    billing = spec.get("BillingMode", "PROVISIONED")

    def throughput(raw: Mapping[str, int] | None) -> dict[str, int]:
        raw = raw or {}
        return {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": raw.get("ReadCapacityUnits", 0),
            "WriteCapacityUnits": raw.get("WriteCapacityUnits", 0),
        }

    description: dict[str, Any] = {
        "AttributeDefinitions": spec["AttributeDefinitions"],
        "TableName": name,
        "KeySchema": spec["KeySchema"],
        "TableStatus": status,
        "CreationDateTime": created_ms / 1000,
        "ProvisionedThroughput": throughput(spec.get("ProvisionedThroughput")),
        "TableSizeBytes": size,
        "ItemCount": items,
        "TableArn": arn,
        "TableId": table_id,
        "DeletionProtectionEnabled": spec.get("DeletionProtectionEnabled", False),
    }
    if billing == "PAY_PER_REQUEST":
        description["BillingModeSummary"] = {
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": spec.get("BillingModeUpdatedMs", created_ms)
            / 1000,
        }
    if spec.get("TableClass", "STANDARD") != "STANDARD":
        description["TableClassSummary"] = {"TableClass": spec["TableClass"]}
    for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        if not spec.get(kind):
            continue
        shown = []
        for index in spec[kind]:
            index_items, index_size = counts.get(index["IndexName"], (0, 0))
            entry: dict[str, Any] = {
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index["Projection"],
                "IndexSizeBytes": index_size,
                "ItemCount": index_items,
                "IndexArn": f"{arn}/index/{index['IndexName']}",
            }
            if kind == "GlobalSecondaryIndexes":
                entry["IndexStatus"] = (index_status or {}).get(index["IndexName"], "ACTIVE")
                entry["ProvisionedThroughput"] = throughput(index.get("ProvisionedThroughput"))
            shown.append(entry)
        description[kind] = shown
    stream = spec.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        description["StreamSpecification"] = stream
    if spec.get("LatestStreamArn"):
        description["LatestStreamArn"] = spec["LatestStreamArn"]
        description["LatestStreamLabel"] = spec["LatestStreamLabel"]
    return description


def table_arn(name: str, region: str, account_id: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"

"""DynamoDB's API (``DynamoDB_20120810``, AWS JSON 1.0) on the built-in tables, so that
boto3's ``dynamodb`` client and ``Table`` resource, the JavaScript SDKs and the AWS CLI
work unchanged.

Each operation checks its request as DynamoDB does (its ValidationException wording,
members checked before the table is looked up), parses its expressions with
:mod:`gureum.tables.expressions`, and hands the store (:mod:`gureum.tables.table_store`)
a :class:`~gureum.tables.table_store.Mutation` whose function decides the request's
conditions against the stored item inside the write transaction. The legacy
parameters (Expected, KeyConditions, QueryFilter, ScanFilter, AttributeUpdates,
ConditionalOperator) answer a ValidationException that names the expression to use
instead; AttributesToGet is taken.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Mapping
from typing import Any

import orjson

from gureum.errors import (
    ConditionalCheckFailedException,
    LimitExceededException,
    ResourceNotFoundException,
    ServiceError,
    TableError,
    ValidationException,
)
from gureum.frontend import json_rpc
from gureum.tables import schema as schemas
from gureum.tables.expressions import (
    ConditionExpression,
    ExpressionAttributes,
    ProjectionExpression,
    UpdateExpression,
    UpdateResult,
    parse_condition,
    parse_filter,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from gureum.tables.schema import Index, TableSchema, constraint
from gureum.tables.table_store import KEEP, Mutation, Tables, Written
from gureum.tables.values import (
    ITEM_TO_UPDATE_TOO_LARGE,
    Item,
    SerializationError,
    ValidationError,
    check_item_size,
    key_bytes,
    validate_item,
)

LEGACY = {
    "Expected": "ConditionExpression",
    "ConditionalOperator": "ConditionExpression or FilterExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "AttributeUpdates": "UpdateExpression",
}
MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25
MAX_TRANSACT = 100
CONDITION_FAILED = "The conditional request failed"
RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def _member(name: str) -> str:
    return name[0].lower() + name[1:]


def _enum(params: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise constraint(
            value, _member(name), f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return str(value)


def _refuse_legacy(params: Mapping[str, Any]) -> None:
    for name, instead in LEGACY.items():
        if params.get(name) is not None:
            raise ValidationException(
                f"gureum does not support the legacy parameter {name}; use {instead}"
            )


def _expression_attributes(params: Mapping[str, Any], *expressions: str) -> ExpressionAttributes:
    names, values = params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues")
    if not any(params.get(member) is not None for member in expressions):
        if names is not None:
            raise ValidationException(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if values is not None:
            raise ValidationException(
                "ExpressionAttributeValues can only be specified when using expressions"
            )
    return ExpressionAttributes(names, values)


def _item(value: object, member: str) -> Item:
    if value is None:
        raise constraint(None, member, "Member must not be null")
    return validate_item(value)


def _projection(
    params: Mapping[str, Any], attributes: ExpressionAttributes
) -> ProjectionExpression | list[str] | None:
    text = params.get("ProjectionExpression")
    to_get = params.get("AttributesToGet")
    if text is not None and to_get is not None:
        raise ValidationException(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: "
            "{ProjectionExpression}"
        )
    if text is not None:
        return parse_projection(text, attributes)
    if to_get is not None:
        if (
            not isinstance(to_get, list)
            or not to_get
            or not all(isinstance(a, str) for a in to_get)
        ):
            raise constraint(
                to_get, "attributesToGet", "Member must have length greater than or equal to 1"
            )
        if len(set(to_get)) != len(to_get):
            raise ValidationException(
                "One or more parameter values were invalid: Duplicate value in attribute name: "
                + next(a for a in to_get if to_get.count(a) > 1)
            )
        return list(to_get)
    return None


def _project(item: Item, projection: ProjectionExpression | list[str] | None) -> Item:
    if projection is None:
        return item
    if isinstance(projection, list):
        return {name: item[name] for name in projection if name in item}
    return projection.apply(item)


def _condition_failed(params: Mapping[str, Any], old: Item | None) -> TableError:
    if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
        return ConditionalCheckFailedException(CONDITION_FAILED, Item=old)
    return ConditionalCheckFailedException(CONDITION_FAILED)


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units if consistent else units / 2)


def _write_units(written: Written) -> float:
    return float(max(1, math.ceil(max(written.old_size, written.new_size) / 1024)))


def _capacity(params: Mapping[str, Any], table: str, units: float) -> dict[str, Any] | None:
    mode = _enum(params, "ReturnConsumedCapacity", ("INDEXES", "TOTAL", "NONE"), "NONE")
    if mode == "NONE":
        return None
    consumed: dict[str, Any] = {"TableName": table, "CapacityUnits": units}
    if mode == "INDEXES":
        consumed["Table"] = {"CapacityUnits": units}
    return consumed


def _with_capacity(
    answer: dict[str, Any], params: Mapping[str, Any], table: str, units: float
) -> dict[str, Any]:
    consumed = _capacity(params, table, units)
    if consumed is not None:
        answer["ConsumedCapacity"] = consumed
    return answer


def _limit(params: Mapping[str, Any]) -> int | None:
    limit = params.get("Limit")
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise constraint(limit, "limit", "Member must have value greater than or equal to 1")
    return limit


def _transact_items(params: Mapping[str, Any]) -> list[Any]:
    """A transaction's TransactItems: 1 to 100 of them."""
    items = params.get("TransactItems")
    if not isinstance(items, list) or not items:
        raise constraint(
            items, "transactItems", "Member must have length greater than or equal to 1"
        )
    if len(items) > MAX_TRANSACT:
        raise constraint(
            "[...]",
            "transactItems",
            f"Member must have length less than or equal to {MAX_TRANSACT}",
        )
    return items


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


class DynamoDBAPI:
    """DynamoDB's operations over the built-in tables."""

    def __init__(self, tables: Tables, *, region: str, account_id: str) -> None:
        self.tables = tables
        self.region = region
        self.account_id = account_id

    # names and tables

    def _name(self, params: Mapping[str, Any], member: str = "TableName") -> str:
        """The table a request names (by name or ARN)."""
        name = schemas.check_table_name(params.get(member), _member(member))
        if name.startswith("arn:"):
            return self._arn_name(name)
        return name

    def _arn_name(self, arn: object) -> str:
        prefix = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/"
        if not isinstance(arn, str) or not arn.startswith("arn:aws:dynamodb:"):
            raise ValidationException(
                f"Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )
        if not arn.startswith(prefix) or "/" in arn[len(prefix) :]:
            raise ResourceNotFoundException(
                f"Requested resource not found: ResourcArn: {arn} not found"
            )
        return arn[len(prefix) :]

    async def _schema(self, name: str) -> TableSchema:
        return await self.tables.schema(name)

    async def create_table(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = schemas.create_spec(params)
        name = self._name(params)
        return {"TableDescription": await self.tables.create(name, spec)}

    async def describe_table(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._name(params)
        try:
            return {"Table": await self.tables.describe(name)}
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"Requested resource not found: Table: {name} not found"
            ) from None

    async def list_tables(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("Limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            rule = (
                "Member must have value less than or equal to 100"
                if isinstance(limit, int) and limit > 100
                else "Member must have value greater than or equal to 1"
            )
            raise constraint(limit, "limit", rule)
        start = params.get("ExclusiveStartTableName")
        if start is not None:
            schemas.check_table_name(start, "exclusiveStartTableName")
        names, more = await self.tables.names(start, limit)
        answer: dict[str, Any] = {"TableNames": names}
        if more:
            answer["LastEvaluatedTableName"] = names[-1]
        return answer

    async def delete_table(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"TableDescription": await self.tables.delete(self._name(params))}

    async def update_table(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._name(params)
        members = (
            "ProvisionedThroughput",
            "BillingMode",
            "StreamSpecification",
            "GlobalSecondaryIndexUpdates",
            "DeletionProtectionEnabled",
            "TableClass",
            "AttributeDefinitions",
        )
        if not any(params.get(member) is not None for member in members[:-1]):
            raise ValidationException(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
            )
        stream = schemas.check_stream(params.get("StreamSpecification"))
        definitions = (
            schemas.check_attribute_definitions(params["AttributeDefinitions"])
            if params.get("AttributeDefinitions") is not None
            else {}
        )
        updates = params.get("GlobalSecondaryIndexUpdates") or []
        if not isinstance(updates, list):
            raise ValidationException("GlobalSecondaryIndexUpdates must be a list")

        def change(table: TableSchema) -> dict[str, Any]:
            spec = dict(table.spec)
            if params.get("BillingMode") is not None or params.get("ProvisionedThroughput"):
                billing = params.get("BillingMode", spec.get("BillingMode", "PROVISIONED"))
                throughput = params.get("ProvisionedThroughput")
                if throughput is None and billing == "PROVISIONED":
                    throughput = spec.get("ProvisionedThroughput")
                mode, checked = schemas.check_billing(
                    {"BillingMode": billing, "ProvisionedThroughput": throughput}
                )
                if mode == "PAY_PER_REQUEST" and spec.get("BillingMode") != mode:
                    spec["BillingModeUpdatedMs"] = int(time.time() * 1000)
                spec["BillingMode"] = mode
                if checked is None:
                    spec.pop("ProvisionedThroughput", None)
                else:
                    spec["ProvisionedThroughput"] = checked
            if stream is not None:
                current = spec.get("StreamSpecification", {})
                if stream["StreamEnabled"] and current.get("StreamEnabled"):
                    raise ValidationException(
                        f"Table already has an enabled stream: TableName: {name}"
                    )
                if not stream["StreamEnabled"] and not current.get("StreamEnabled"):
                    raise ValidationException(f"Table already has no stream: TableName: {name}")
                if stream["StreamEnabled"]:
                    spec["StreamSpecification"] = stream
                else:
                    spec.pop("StreamSpecification", None)
            if params.get("DeletionProtectionEnabled") is not None:
                spec["DeletionProtectionEnabled"] = bool(params["DeletionProtectionEnabled"])
            if params.get("TableClass") is not None:
                spec["TableClass"] = _enum(
                    params, "TableClass", ("STANDARD", "STANDARD_INFREQUENT_ACCESS"), "STANDARD"
                )
            if updates:
                spec = self._index_updates(table, spec, updates, definitions)
            return spec

        return {"TableDescription": await self.tables.update(name, change)}

    def _index_updates(
        self,
        table: TableSchema,
        spec: dict[str, Any],
        updates: list[Any],
        definitions: Mapping[str, str],
    ) -> dict[str, Any]:
        types = dict(table.attribute_types)
        for attribute, kind in definitions.items():
            if types.get(attribute, kind) != kind:
                raise ValidationException(
                    "One or more parameter values were invalid: Attribute "
                    f"{attribute} is already defined with a different type"
                )
            types[attribute] = kind
        indexes = list(spec.get("GlobalSecondaryIndexes", []))
        changes = 0
        for update in updates:
            if not isinstance(update, Mapping) or len(update) != 1:
                raise ValidationException(
                    "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate "
                    "Create, Update or Delete must be specified"
                )
            ((action, body),) = update.items()
            if not isinstance(body, Mapping):
                raise ValidationException(
                    f"GlobalSecondaryIndexUpdates {action} must be a structure"
                )
            name = body.get("IndexName")
            existing = [i for i in indexes if i["IndexName"] == name]
            if action == "Create":
                changes += 1
                if name in table.indexes:
                    raise ValidationException(
                        f"One or more parameter values were invalid: Index already exists: {name}"
                    )
                index = schemas.check_index(
                    body,
                    is_global=True,
                    types=types,
                    table_key=spec["KeySchema"],
                    billing=spec.get("BillingMode", "PROVISIONED"),
                )
                indexes.append(index)
                if len(indexes) > schemas.MAX_GLOBAL_INDEXES:
                    raise LimitExceededException(
                        "Subscriber limit exceeded: the number of global secondary indexes "
                        f"exceeds the limit of {schemas.MAX_GLOBAL_INDEXES}"
                    )
            elif action == "Delete":
                changes += 1
                if not existing:
                    raise ResourceNotFoundException(
                        f"Requested resource not found: Index: {name} not found"
                    )
                indexes.remove(existing[0])
            elif action == "Update":
                if not existing:
                    raise ResourceNotFoundException(
                        f"Requested resource not found: Index: {name} not found"
                    )
                throughput = schemas.check_throughput(body.get("ProvisionedThroughput"), str(name))
                updated = {**existing[0], "ProvisionedThroughput": throughput}
                indexes[indexes.index(existing[0])] = updated
            else:
                raise ValidationException(f"Unknown GlobalSecondaryIndexUpdate action: {action}")
        if changes > 1:
            raise LimitExceededException(
                "Subscriber limit exceeded: Only 1 online index can be created or deleted "
                "simultaneously per table"
            )
        used = {e["AttributeName"] for e in spec["KeySchema"]}
        for index in [*spec.get("LocalSecondaryIndexes", []), *indexes]:
            used.update(e["AttributeName"] for e in index["KeySchema"])
        spec["AttributeDefinitions"] = [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in types.items()
            if name in used
        ]
        if indexes:
            spec["GlobalSecondaryIndexes"] = indexes
        else:
            spec.pop("GlobalSecondaryIndexes", None)
        return spec

    # time to live and tags

    async def update_time_to_live(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._name(params)
        wanted = params.get("TimeToLiveSpecification")
        if not isinstance(wanted, Mapping):
            raise constraint(None, "timeToLiveSpecification", "Member must not be null")
        enabled, attribute = wanted.get("Enabled"), wanted.get("AttributeName")
        if not isinstance(enabled, bool):
            raise constraint(enabled, "timeToLiveSpecification.enabled", "Member must not be null")
        if not isinstance(attribute, str) or not 1 <= len(attribute) <= 255:
            raise constraint(
                attribute,
                "timeToLiveSpecification.attributeName",
                "Member must have length greater than or equal to 1",
            )

        def change(table: TableSchema) -> dict[str, Any]:
            spec = dict(table.spec)
            current = spec.get("TimeToLive", {})
            if enabled and current.get("TimeToLiveStatus") == "ENABLED":
                raise ValidationException("TimeToLive is already enabled")
            if not enabled and current.get("TimeToLiveStatus") != "ENABLED":
                raise ValidationException("TimeToLive is already disabled")
            if not enabled and current.get("AttributeName") != attribute:
                raise ValidationException(
                    "TimeToLive is active on a different AttributeName: current AttributeName "
                    f"is {current.get('AttributeName')}"
                )
            spec["TimeToLive"] = {
                "TimeToLiveStatus": "ENABLED" if enabled else "DISABLED",
                "AttributeName": attribute,
            }
            return spec

        await self.tables.update(name, change)
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}

    async def describe_time_to_live(self, params: dict[str, Any]) -> dict[str, Any]:
        table = await self._schema(self._name(params))
        ttl = table.spec.get("TimeToLive")
        if not ttl:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": dict(ttl)}

    async def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._arn_name(params.get("ResourceArn"))
        tags = schemas.check_tags(params.get("Tags"))
        if not tags:
            raise constraint(params.get("Tags"), "tags", "Member must not be null")

        def change(table: TableSchema) -> dict[str, Any]:
            merged = {**table.spec.get("Tags", {}), **tags}
            if len(merged) > 50:
                raise ValidationException("Too many tags: a resource can have at most 50")
            return {**table.spec, "Tags": merged}

        await self._update_tagged(params, name, change)
        return {}

    async def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._arn_name(params.get("ResourceArn"))
        keys = params.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise constraint(keys, "tagKeys", "Member must not be null")

        def change(table: TableSchema) -> dict[str, Any]:
            tags = {k: v for k, v in table.spec.get("Tags", {}).items() if k not in keys}
            return {**table.spec, "Tags": tags}

        await self._update_tagged(params, name, change)
        return {}

    async def _update_tagged(self, params: Mapping[str, Any], name: str, change: Any) -> None:
        try:
            await self.tables.update(name, change)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"Requested resource not found: ResourcArn: {params.get('ResourceArn')} not found"
            ) from None

    async def list_tags_of_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._arn_name(params.get("ResourceArn"))
        try:
            table = await self._schema(name)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"Requested resource not found: ResourcArn: {params.get('ResourceArn')} not found"
            ) from None
        tags = table.spec.get("Tags", {})
        return {"Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())]}

    # items

    def _return_values(self, params: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
        value = _enum(params, "ReturnValues", RETURN_VALUES, "NONE")
        if value not in allowed:
            raise ValidationException(f"ReturnValues can only be {' or '.join(allowed[::-1])}")
        _enum(params, "ReturnValuesOnConditionCheckFailure", ("ALL_OLD", "NONE"), "NONE")
        return value

    def _put(self, params: Mapping[str, Any], table: TableSchema) -> tuple[Mutation, Item]:
        """A Put (PutItem, a BatchWriteItem's PutRequest, a transaction's Put)."""
        item = _item(params.get("Item"), "item")
        table.item_key(item)
        check_item_size(item)
        attributes = _expression_attributes(params, "ConditionExpression")
        condition = self._condition(params, attributes)
        attributes.check_unused()
        key = table.key_of(item)

        def compute(old: Item | None) -> Item:
            if condition is not None and not condition.evaluate(old):
                raise _condition_failed(params, old)
            return item

        return Mutation(table.name, key, compute, table_id=table.table_id), item

    def _condition(
        self, params: Mapping[str, Any], attributes: ExpressionAttributes
    ) -> ConditionExpression | None:
        text = params.get("ConditionExpression")
        return parse_condition(text, attributes) if text is not None else None

    def _delete(self, params: Mapping[str, Any], table: TableSchema) -> Mutation:
        key = table.check_key(params.get("Key"))
        attributes = _expression_attributes(params, "ConditionExpression")
        condition = self._condition(params, attributes)
        attributes.check_unused()

        def compute(old: Item | None) -> None:
            if condition is not None and not condition.evaluate(old):
                raise _condition_failed(params, old)
            return None

        return Mutation(table.name, key, compute, table_id=table.table_id)

    def _update(
        self, params: Mapping[str, Any], table: TableSchema
    ) -> tuple[Mutation, list[UpdateResult]]:
        key = table.check_key(params.get("Key"))
        attributes = _expression_attributes(params, "ConditionExpression", "UpdateExpression")
        update: UpdateExpression | None = None
        if params.get("UpdateExpression") is not None:
            update = parse_update(params["UpdateExpression"], attributes)
        condition = self._condition(params, attributes)
        attributes.check_unused()
        if update is not None:
            update.check_keys(table.key.attributes)
        results: list[UpdateResult] = []

        def compute(old: Item | None) -> Item:
            if condition is not None and not condition.evaluate(old):
                raise _condition_failed(params, old)
            base = old if old is not None else dict(key)
            if update is None:
                return dict(base)
            try:
                result = update.apply(base)
                table.item_key(result.item)
                check_item_size(result.item, message=ITEM_TO_UPDATE_TOO_LARGE)
            except ValidationError as error:
                raise ValidationException(error.message) from None
            if old is None:
                result = UpdateResult(old={}, item=result.item, paths=result.paths)
            results.append(result)
            return result.item

        return Mutation(table.name, key, compute, table_id=table.table_id), results

    async def put_item(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        returns = self._return_values(params, ("NONE", "ALL_OLD"))
        table = await self._schema(name)
        mutation, _ = self._put(params, table)
        written = await self.tables.write(mutation)
        answer: dict[str, Any] = {}
        if returns == "ALL_OLD" and written.old is not None:
            answer["Attributes"] = written.old
        return _with_capacity(answer, params, name, _write_units(written))

    async def delete_item(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        returns = self._return_values(params, ("NONE", "ALL_OLD"))
        table = await self._schema(name)
        written = await self.tables.write(self._delete(params, table))
        answer: dict[str, Any] = {}
        if returns == "ALL_OLD" and written.old is not None:
            answer["Attributes"] = written.old
        return _with_capacity(answer, params, name, _write_units(written))

    async def update_item(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        returns = self._return_values(params, RETURN_VALUES)
        table = await self._schema(name)
        mutation, results = self._update(params, table)
        written = await self.tables.write(mutation)
        answer: dict[str, Any] = {}
        attributes: Item | None = None
        if returns == "ALL_OLD":
            attributes = written.old
        elif returns == "ALL_NEW":
            attributes = written.new
        elif returns in ("UPDATED_OLD", "UPDATED_NEW") and results:
            result = results[-1]
            attributes = result.updated_old() if returns == "UPDATED_OLD" else result.updated_new()
        if attributes:
            answer["Attributes"] = attributes
        return _with_capacity(answer, params, name, _write_units(written))

    async def get_item(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        attributes = _expression_attributes(params, "ProjectionExpression")
        projection = _projection(params, attributes)
        attributes.check_unused()
        consistent = params.get("ConsistentRead", False) is True
        table = await self._schema(name)
        key = table.check_key(params.get("Key"))
        item, size = await self.tables.get(table, key)
        answer: dict[str, Any] = {}
        if item is not None:
            answer["Item"] = _project(item, projection)
        return _with_capacity(answer, params, name, _read_units(size, consistent))

    # queries and scans

    def _read_shape(
        self,
        params: Mapping[str, Any],
        table: TableSchema,
        attributes: ExpressionAttributes,
    ) -> tuple[
        Index | None, str, ProjectionExpression | list[str] | None, ConditionExpression | None
    ]:
        index = None
        if params.get("IndexName") is not None:
            index_name = params["IndexName"]
            if not isinstance(index_name, str) or index_name not in table.indexes:
                raise ValidationException(
                    f"The table does not have the specified index: {index_name}"
                )
            index = table.indexes[index_name]
            if index.is_global and params.get("ConsistentRead") is True:
                raise ValidationException(
                    "Consistent reads are not supported on global secondary indexes"
                )
        projection = _projection(params, attributes)
        default = "ALL_ATTRIBUTES" if index is None else "ALL_PROJECTED_ATTRIBUTES"
        if projection is not None:
            default = "SPECIFIC_ATTRIBUTES"
        select = _enum(
            params,
            "Select",
            ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT"),
            default,
        )
        if select == "SPECIFIC_ATTRIBUTES" and projection is None:
            raise ValidationException(
                "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES "
                "requires ProjectionExpression or AttributesToGet"
            )
        if select != "SPECIFIC_ATTRIBUTES" and projection is not None:
            raise ValidationException(
                "One or more parameter values were invalid: Cannot specify the "
                f"ProjectionExpression when choosing to get {select}"
            )
        if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
            raise ValidationException(
                "One or more parameter values were invalid: Select type "
                "ALL_PROJECTED_ATTRIBUTES can only be used when querying an index"
            )
        if (
            select == "ALL_ATTRIBUTES"
            and index is not None
            and index.is_global
            and (index.projection != "ALL")
        ):
            raise ValidationException(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
                f"supported for global secondary index {index.name} because its projection "
                "type is not ALL"
            )
        text = params.get("FilterExpression")
        filter_ = parse_filter(text, attributes) if text is not None else None
        return index, select, projection, filter_

    def _start_key(
        self, params: Mapping[str, Any], table: TableSchema, index: Index | None
    ) -> Item | None:
        start = params.get("ExclusiveStartKey")
        if start is None:
            return None
        key = validate_item(start)
        wanted = set(table.key.attributes) | (set(index.key.attributes) if index else set())
        if set(key) != wanted:
            raise ValidationException(
                "The provided starting key is invalid: The provided key element does not match "
                "the schema"
            )
        for attribute, value in key.items():
            kind = (index.key.types.get(attribute) if index else None) or table.key.types.get(
                attribute
            )
            if next(iter(value)) != kind:
                raise ValidationException(
                    "The provided starting key is invalid: The provided key element does not "
                    "match the schema"
                )
        return key

    def _page_answer(
        self,
        params: Mapping[str, Any],
        table: TableSchema,
        index: Index | None,
        select: str,
        projection: ProjectionExpression | list[str] | None,
        filter_: ConditionExpression | None,
        rows: list[tuple[Item, int]],
        more: bool,
    ) -> dict[str, Any]:
        items = []
        size = 0
        for item, item_size in rows:
            size += item_size
            if filter_ is not None and not filter_.evaluate(item):
                continue
            if select == "COUNT":
                items.append(item)
                continue
            if index is not None and select == "ALL_PROJECTED_ATTRIBUTES":
                item = index.project(item, table.key)
            items.append(_project(item, projection))
        answer: dict[str, Any] = {"Count": len(items), "ScannedCount": len(rows)}
        if select != "COUNT":
            answer["Items"] = items
        if more and rows:
            answer["LastEvaluatedKey"] = table.key_of(rows[-1][0], index)
        consistent = params.get("ConsistentRead") is True
        return _with_capacity(answer, params, table.name, _read_units(size, consistent))

    async def query(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        limit = _limit(params)
        attributes = _expression_attributes(
            params, "KeyConditionExpression", "FilterExpression", "ProjectionExpression"
        )
        text = params.get("KeyConditionExpression")
        if text is None:
            raise ValidationException(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified "
                "in the request."
            )
        condition = parse_key_condition(text, attributes)
        forward = params.get("ScanIndexForward", True)
        if not isinstance(forward, bool):
            raise ValidationException("ScanIndexForward must be true or false")
        table = await self._schema(name)
        index, select, projection, filter_ = self._read_shape(params, table, attributes)
        attributes.check_unused()
        key = index.key if index is not None else table.key
        bound = condition.bind(key.partition, key.sort, key.types)
        if filter_ is not None:
            for attribute in filter_.attributes:
                if attribute in key.attributes:
                    raise ValidationException(
                        "Filter Expression can only contain non-primary key attributes: "
                        f"Primary key attribute: {attribute}"
                    )
        start_key = self._start_key(params, table, index)
        start = None
        if start_key is not None:
            if key_bytes(start_key[key.partition]) != key_bytes(bound.partition_value):
                raise ValidationException("The provided starting key is outside query range.")
            start = self.tables.query_position(table, index, start_key)
        page = await self.tables.query(
            table,
            index,
            key_bytes(bound.partition_value),
            bound.sort.key_range() if bound.sort is not None else None,
            forward=forward,
            start=start,
            limit=limit,
        )
        return self._page_answer(
            params, table, index, select, projection, filter_, page.rows, page.more
        )

    async def scan(self, params: dict[str, Any]) -> dict[str, Any]:
        _refuse_legacy(params)
        name = self._name(params)
        limit = _limit(params)
        attributes = _expression_attributes(params, "FilterExpression", "ProjectionExpression")
        segment = self._segment(params)
        table = await self._schema(name)
        index, select, projection, filter_ = self._read_shape(params, table, attributes)
        attributes.check_unused()
        start_key = self._start_key(params, table, index)
        start = self.tables.scan_position(table, index, start_key) if start_key else None
        page = await self.tables.scan(table, index, segment=segment, start=start, limit=limit)
        return self._page_answer(
            params, table, index, select, projection, filter_, page.rows, page.more
        )

    @staticmethod
    def _segment(params: Mapping[str, Any]) -> tuple[int, int] | None:
        segment, total = params.get("Segment"), params.get("TotalSegments")
        if segment is None and total is None:
            return None
        if total is None:
            raise ValidationException(
                "The TotalSegments parameter is required but was not present in the request "
                "when Segment parameter is present"
            )
        if segment is None:
            raise ValidationException(
                "The Segment parameter is required but was not present in the request when "
                "parameter TotalSegments is present"
            )
        if not isinstance(total, int) or not 1 <= total <= 1_000_000:
            raise constraint(
                total,
                "totalSegments",
                "Member must have value less than or equal to 1000000"
                if isinstance(total, int) and total > 1
                else "Member must have value greater than or equal to 1",
            )
        if not isinstance(segment, int) or segment < 0:
            raise constraint(
                segment, "segment", "Member must have value greater than or equal to 0"
            )
        if segment >= total:
            raise ValidationException(
                "The Segment parameter is zero-based and must be less than parameter "
                f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
            )
        return segment, total

    # batches and transactions

    async def batch_get_item(self, params: dict[str, Any]) -> dict[str, Any]:
        requested = params.get("RequestItems")
        if not isinstance(requested, Mapping) or not requested:
            raise constraint(
                requested, "requestItems", "Member must have length greater than or equal to 1"
            )
        plans: list[tuple[str, Item, ProjectionExpression | list[str] | None, bool]] = []
        for name, request in requested.items():
            schemas.check_table_name(name, "requestItems.key")
            if not isinstance(request, Mapping):
                raise ValidationException("RequestItems values must be structures")
            keys = request.get("Keys")
            if not isinstance(keys, list) or not keys:
                raise constraint(
                    keys,
                    f"requestItems.{name}.member.keys",
                    "Member must have length greater than or equal to 1",
                )
            if len(keys) > MAX_BATCH_GET or len(plans) + len(keys) > MAX_BATCH_GET:
                raise ValidationException("Too many items requested for the BatchGetItem call")
            attributes = _expression_attributes(request, "ProjectionExpression")
            projection = _projection(request, attributes)
            attributes.check_unused()
            consistent = request.get("ConsistentRead") is True
            table = await self._schema(name)
            seen = set()
            for raw in keys:
                key = table.check_key(raw)
                identity = table.key_bytes(key)
                if identity in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add(identity)
                plans.append((name, key, projection, consistent))
        found = await self.tables.get_many([(name, key) for name, key, _, _ in plans])
        responses: dict[str, list[Item]] = {name: [] for name in requested}
        units: dict[str, float] = {}
        for (name, _, projection, consistent), result in zip(plans, found, strict=True):
            if isinstance(result, ServiceError):
                raise result
            item, size = result
            units[name] = units.get(name, 0.0) + _read_units(size, consistent)
            if item is not None:
                responses[name].append(_project(item, projection))
        answer: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": {}}
        consumed = [_capacity(params, name, units.get(name, 0.0)) for name in requested]
        if consumed and consumed[0] is not None:
            answer["ConsumedCapacity"] = consumed
        return answer

    async def batch_write_item(self, params: dict[str, Any]) -> dict[str, Any]:
        requested = params.get("RequestItems")
        if not isinstance(requested, Mapping) or not requested:
            raise constraint(
                requested, "requestItems", "Member must have length greater than or equal to 1"
            )
        total = sum(len(r) if isinstance(r, list) else 0 for r in requested.values())
        if total > MAX_BATCH_WRITE:
            raise ValidationException(
                "1 validation error detected: Value at 'requestItems' failed to satisfy "
                "constraint: Map value must satisfy constraint: [Member must have length less "
                "than or equal to 25, Member must have length greater than or equal to 1]"
            )
        mutations: list[Mutation] = []
        for name, writes in requested.items():
            schemas.check_table_name(name, "requestItems.key")
            if not isinstance(writes, list) or not writes:
                raise ValidationException(
                    "1 validation error detected: Value at 'requestItems' failed to satisfy "
                    "constraint: Map value must satisfy constraint: [Member must have length "
                    "less than or equal to 25, Member must have length greater than or equal to 1]"
                )
            table = await self._schema(name)
            seen = set()
            for write in writes:
                if not isinstance(write, Mapping) or len(write) != 1:
                    raise ValidationException(
                        "Supplied AttributeValue has more than one datatypes set, must contain "
                        "exactly one of the supported datatypes"
                        if isinstance(write, Mapping) and len(write) > 1
                        else "One or more parameter values were invalid: A WriteRequest must "
                        "contain exactly one of PutRequest or DeleteRequest"
                    )
                ((kind, body),) = write.items()
                if kind == "PutRequest" and isinstance(body, Mapping):
                    mutation, _ = self._put({"Item": body.get("Item")}, table)
                elif kind == "DeleteRequest" and isinstance(body, Mapping):
                    mutation = self._delete({"Key": body.get("Key")}, table)
                else:
                    raise ValidationException(
                        "One or more parameter values were invalid: A WriteRequest must contain "
                        "exactly one of PutRequest or DeleteRequest"
                    )
                identity = table.key_bytes(mutation.key)
                if identity in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add(identity)
                mutations.append(mutation)
        written = await asyncio.gather(*(self.tables.write(m) for m in mutations))
        units: dict[str, float] = {}
        for mutation, done in zip(mutations, written, strict=True):
            units[mutation.table] = units.get(mutation.table, 0.0) + _write_units(done)
        answer: dict[str, Any] = {"UnprocessedItems": {}}
        consumed = [_capacity(params, name, units.get(name, 0.0)) for name in requested]
        if consumed and consumed[0] is not None:
            answer["ConsumedCapacity"] = consumed
        return answer

    async def transact_write_items(self, params: dict[str, Any]) -> dict[str, Any]:
        items = _transact_items(params)
        token = params.get("ClientRequestToken")
        if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 36):
            raise constraint(
                token, "clientRequestToken", "Member must have length less than or equal to 36"
            )
        mutations: list[Mutation] = []
        seen: set[tuple[str, bytes, bytes]] = set()
        for entry in items:
            if not isinstance(entry, Mapping) or len(entry) != 1:
                raise ValidationException(
                    "TransactItems can only contain one of Check, Put, Update or Delete"
                )
            ((kind, body),) = entry.items()
            if not isinstance(body, Mapping):
                raise ValidationException(f"{kind} must be a structure")
            name = self._name(body)
            table = await self._schema(name)
            if kind == "Put":
                mutation, _ = self._put(body, table)
            elif kind == "Delete":
                mutation = self._delete(body, table)
            elif kind == "Update":
                mutation, _ = self._update(body, table)
            elif kind == "ConditionCheck":
                mutation = self._check(body, table)
            else:
                raise ValidationException(
                    "TransactItems can only contain one of Check, Put, Update or Delete"
                )
            identity = (name, *table.key_bytes(mutation.key))
            if identity in seen:
                raise ValidationException(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(identity)
            mutations.append(mutation)
        size = len(orjson.dumps(items))
        if size > 4 * 1024 * 1024:
            raise ValidationException(
                "Transaction size has exceeded the maximum allowed size of 4 MB"
            )
        written = await self.tables.transact(
            mutations, (token, _digest(items)) if token is not None else None
        )
        units: dict[str, float] = {}
        for mutation, done in zip(mutations, written, strict=True):
            units[mutation.table] = units.get(mutation.table, 0.0) + 2 * _write_units(done)
        answer: dict[str, Any] = {}
        consumed = [_capacity(params, name, value) for name, value in units.items()]
        if consumed and consumed[0] is not None:
            answer["ConsumedCapacity"] = consumed
        return answer

    def _check(self, params: Mapping[str, Any], table: TableSchema) -> Mutation:
        key = table.check_key(params.get("Key"))
        attributes = _expression_attributes(params, "ConditionExpression")
        if params.get("ConditionExpression") is None:
            raise constraint(
                None,
                "transactItems.member.conditionCheck.conditionExpression",
                "Member must not be null",
            )
        condition = parse_condition(params["ConditionExpression"], attributes)
        attributes.check_unused()

        def compute(old: Item | None) -> Any:
            if not condition.evaluate(old):
                raise _condition_failed(params, old)
            return KEEP

        return Mutation(table.name, key, compute, table_id=table.table_id)

    async def transact_get_items(self, params: dict[str, Any]) -> dict[str, Any]:
        items = _transact_items(params)
        plans: list[tuple[str, Item, ProjectionExpression | list[str] | None]] = []
        seen: set[tuple[str, bytes, bytes]] = set()
        for entry in items:
            body = entry.get("Get") if isinstance(entry, Mapping) else None
            if not isinstance(body, Mapping):
                raise ValidationException("TransactItems can only contain Get")
            name = self._name(body)
            table = await self._schema(name)
            key = table.check_key(body.get("Key"))
            attributes = _expression_attributes(body, "ProjectionExpression")
            projection = _projection(body, attributes)
            attributes.check_unused()
            identity = (name, *table.key_bytes(key))
            if identity in seen:
                raise ValidationException(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(identity)
            plans.append((name, key, projection))
        found = await self.tables.get_many([(name, key) for name, key, _ in plans])
        responses: list[dict[str, Any]] = []
        for (_, _, projection), result in zip(plans, found, strict=True):
            if isinstance(result, ServiceError):
                raise result
            item, _ = result
            responses.append({} if item is None else {"Item": _project(item, projection)})
        return {"Responses": responses}

    async def describe_limits(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }

    def service(self) -> json_rpc.JsonRpcService:
        operations: dict[str, json_rpc.Operation] = {
            "CreateTable": self.create_table,
            "DescribeTable": self.describe_table,
            "ListTables": self.list_tables,
            "UpdateTable": self.update_table,
            "DeleteTable": self.delete_table,
            "UpdateTimeToLive": self.update_time_to_live,
            "DescribeTimeToLive": self.describe_time_to_live,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsOfResource": self.list_tags_of_resource,
            "PutItem": self.put_item,
            "GetItem": self.get_item,
            "UpdateItem": self.update_item,
            "DeleteItem": self.delete_item,
            "Query": self.query,
            "Scan": self.scan,
            "BatchGetItem": self.batch_get_item,
            "BatchWriteItem": self.batch_write_item,
            "TransactWriteItems": self.transact_write_items,
            "TransactGetItems": self.transact_get_items,
            "DescribeLimits": self.describe_limits,
        }
        return json_rpc.JsonRpcService(
            prefix="DynamoDB_20120810",
            operations={name: _validated(op) for name, op in operations.items()},
            model="dynamodb",
            title="DynamoDB",
            internal_error="InternalServerError",
            json_version="1.0",
            error_namespace="com.amazonaws.dynamodb.v20120810#",
        )


def _validated(operation: json_rpc.Operation) -> json_rpc.Operation:
    """The operation with the pure core's errors answered as DynamoDB answers them."""

    async def run(params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await operation(params)
        except SerializationError as error:
            raise _SerializationException(error.message) from None
        except ValidationError as error:
            raise ValidationException(error.message) from None

    return run


class _SerializationException(ServiceError):
    error_type = "SerializationException"

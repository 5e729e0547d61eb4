"""The table store on both engines, as several nodes use it: read-modify-writes of one
item from two nodes at once lose nothing, a conditional create has one winner, and the
stream's records are numbered once each, in each item's order."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import sqlalchemy as sa

from gureum.errors import ConditionalCheckFailedException
from gureum.store import Store
from gureum.store.tables import ddb_stream_records
from gureum.tables.schema import create_spec
from gureum.tables.table_store import Mutation, Tables
from gureum.tables.values import Item, add_numbers

SPEC = {
    "TableName": "counters",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}


def increment(key: str) -> Mutation:
    def compute(old: Item | None) -> Item:
        count = old["count"]["N"] if old else "0"
        return {"pk": {"S": key}, "count": add_numbers(count, "1")}

    return Mutation("counters", {"pk": {"S": key}}, compute)


def create_once(key: str, node: int) -> Mutation:
    def compute(old: Item | None) -> Item:
        if old is not None:
            raise ConditionalCheckFailedException("The conditional request failed")
        return {"pk": {"S": key}, "node": {"N": str(node)}}

    return Mutation("counters", {"pk": {"S": key}}, compute)


def test_two_nodes_writing_one_item_lose_nothing(store: Store) -> None:
    async def body() -> tuple[Any, list[Any]]:
        one = Tables(store, region="us-east-1", account_id="000000000000")
        other_store = Store(store.url)  # a second node's view of the same database
        two = Tables(other_store, region="us-east-1", account_id="000000000000")
        try:
            await one.create("counters", create_spec(SPEC))
            writes = [(one if n % 2 else two).write(increment(f"k{n % 3}")) for n in range(90)]
            await asyncio.gather(*writes)
            outcomes = await asyncio.gather(
                *((one if n % 2 else two).write(create_once("winner", n)) for n in range(10)),
                return_exceptions=True,
            )
            schema = await one.schema("counters")
            items = [await one.get(schema, {"pk": {"S": f"k{n}"}}) for n in range(3)]
            return items, outcomes
        finally:
            one.close()
            two.close()
            other_store.close()

    items, outcomes = asyncio.run(body())
    assert [item["count"]["N"] for item, _ in items] == ["30", "30", "30"]
    failed = [o for o in outcomes if isinstance(o, ConditionalCheckFailedException)]
    assert len(failed) == 9 and len(outcomes) - len(failed) == 1
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(ddb_stream_records.c.sequence, ddb_stream_records.c.record).order_by(
                ddb_stream_records.c.sequence
            )
        ).all()
    assert [row.sequence for row in rows] == list(range(1, 92))  # 90 counts, 1 winner
    for key in ("k0", "k1", "k2"):
        counts = [
            orjson.loads(row.record)["dynamodb"]["NewImage"]["count"]["N"]
            for row in rows
            if orjson.loads(row.record)["dynamodb"]["Keys"]["pk"]["S"] == key
        ]
        assert counts == [str(n) for n in range(1, 31)]  # each change once, in order

"""The console's browsers of what functions read and are invoked by: queues, Kinesis
streams, tables, event source mappings and APIs, with a look inside each that changes
nothing (a queue is peeked without receiving, a table scanned a page, a stream read
from its trim horizon)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gureum.events.mappings import EventSourceMappings
from gureum.gateway.gateway_store import HTTP_SERVICE, REST_SERVICE, GatewayStore
from gureum.queues.queues import Queues
from gureum.streams.stream_store import StreamStore
from gureum.tables.table_store import Tables

#: Items a peek shows at most: messages, records (per shard), table items.
PEEK_LIMIT = 25


def _text(data: str) -> str | None:
    """A record's base64 data as text, when it is UTF-8."""
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


class ResourceViews:
    def __init__(
        self,
        *,
        queues: Queues,
        kinesis: StreamStore,
        tables: Tables,
        mappings: EventSourceMappings,
        gateway: GatewayStore,
    ) -> None:
        self.queues = queues
        self.kinesis = kinesis
        self.tables = tables
        self.mappings = mappings
        self.gateway = gateway

    # queues
    async def queue_list(self) -> list[dict[str, Any]]:
        found = []
        for queue in await self.queues.list_queues():
            counts = await self.queues.counts(queue.name)
            found.append({"QueueName": queue.name, "Attributes": queue.attributes, **counts})
        return found

    async def queue_peek(self, name: str) -> dict[str, Any]:
        queue = await self.queues.get(name)
        return {
            "QueueName": queue.name,
            "Attributes": queue.attributes,
            **await self.queues.counts(name),
            "Messages": await self.queues.peek(name, PEEK_LIMIT),
        }

    # Kinesis streams
    async def stream_list(self) -> list[dict[str, Any]]:
        streams, _ = await self.kinesis.names(None, 1000)
        return [
            {
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": s.status,
                "StreamMode": s.mode,
                "RetentionPeriodHours": s.retention_hours,
            }
            for s in streams
        ]

    async def stream_peek(self, name: str) -> dict[str, Any]:
        """Each shard's oldest records still kept (TRIM_HORIZON), a page of each."""
        stream, shards = await self.kinesis.shards(name)
        described = []
        for shard in shards:
            page = await self.kinesis.read(name, shard.index, 1, PEEK_LIMIT)
            described.append(
                {
                    "ShardId": shard.shard_id,
                    "Open": shard.open,
                    "Records": [
                        {
                            "SequenceNumber": r.sequence_number,
                            "PartitionKey": r.partition_key,
                            "Data": r.data,
                            "Text": _text(r.data),
                            "ApproximateArrivalTimestamp": r.arrival_ms,
                        }
                        for r in page.records
                    ],
                }
            )
        return {"StreamName": stream.name, "StreamStatus": stream.status, "Shards": described}

    # tables
    async def table_list(self) -> list[dict[str, Any]]:
        names, _ = await self.tables.names(None, 1000)
        return [{"TableName": name} for name in names]

    async def table_peek(self, name: str) -> dict[str, Any]:
        """The table's description and its first page of items (a Scan with a Limit)."""
        description = await self.tables.describe(name)
        schema = await self.tables.schema(name)
        page = await self.tables.scan(schema, None, limit=PEEK_LIMIT)
        return {
            "Table": description,
            "Items": [item for item, _ in page.rows],
            "More": page.more,
        }

    # event source mappings
    async def mapping_list(self) -> list[dict[str, Any]]:
        return [
            {
                "UUID": m.uuid,
                "FunctionArn": m.function_arn,
                "EventSourceArn": m.event_source_arn,
                "State": m.state,
                "StateTransitionReason": m.state_reason,
                "LastProcessingResult": m.last_result,
                "BatchSize": m.batch_size,
                "Enabled": m.enabled,
            }
            for m in await self.mappings.find()
        ]

    # APIs
    async def api_list(self, base_url: str) -> list[dict[str, Any]]:
        found = []
        for api in await self.gateway.list_apis(service=HTTP_SERVICE):
            protocol = str(api.config.get("ProtocolType") or "HTTP")
            scheme = "ws" + base_url.removeprefix("http") if protocol == "WEBSOCKET" else base_url
            found.append(
                {
                    "ApiId": api.api_id,
                    "Name": api.config.get("Name"),
                    "Protocol": protocol,
                    "Endpoint": f"{scheme}/_aws/execute-api/{api.api_id}",
                    "Routes": [
                        p.config.get("RouteKey")
                        for p in await self.gateway.list_parts(api.api_id, "route")
                    ],
                    "Stages": [
                        p.config.get("StageName") or p.part_id
                        for p in await self.gateway.list_parts(api.api_id, "stage")
                    ],
                }
            )
        for api in await self.gateway.list_apis(service=REST_SERVICE):
            found.append(
                {
                    "ApiId": api.api_id,
                    "Name": api.config.get("name"),
                    "Protocol": "REST",
                    "Endpoint": f"{base_url}/_aws/execute-api/{api.api_id}",
                    "Routes": [
                        p.config.get("path")
                        for p in await self.gateway.list_parts(api.api_id, "resource")
                    ],
                    "Stages": [
                        p.config.get("stageName") or p.part_id
                        for p in await self.gateway.list_parts(api.api_id, "stage")
                    ],
                }
            )
        return found

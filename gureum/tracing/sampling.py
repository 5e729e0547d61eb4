"""Sampling rules, X-Ray's way: the first rule (by priority) that matches a request
decides; each rule lets ``ReservoirSize`` requests a second through, then a
``FixedRate`` share of the rest. The ``Default`` rule (priority 10000, reservoir 1,
rate 0.05) matches everything and always exists.

The platform samples invocations of functions with ``TracingConfig: Active`` that come
without a decided trace header, against the rules, as the service ``NAME`` of type
``AWS::Lambda::Function``. Rules also answer the SDKs' centralized sampler through
GetSamplingRules and GetSamplingTargets.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gureum.errors import InvalidRequestException, RuleLimitExceededException
from gureum.store import Store
from gureum.store.tables import sampling_rules

logger = logging.getLogger(__name__)

#: How often a node reads the rules again, for other nodes' changes (the X-Ray SDKs
#: themselves fetch the rules every 5 minutes).
REFRESH_SECONDS = 10.0

DEFAULT_RULE: dict[str, Any] = {
    "RuleName": "Default",
    "ResourceARN": "*",
    "Priority": 10000,
    "FixedRate": 0.05,
    "ReservoirSize": 1,
    "ServiceName": "*",
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "*",
    "URLPath": "*",
    "Version": 1,
    "Attributes": {},
}


def _matches(pattern: str, value: str | None) -> bool:
    """X-Ray's wildcards: ``*`` any run of characters, ``?`` one; case-insensitive."""
    if pattern == "*":
        return True
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


@dataclass
class _Reservoir:
    second: int = 0
    used: int = 0


@dataclass
class Sampler:
    """Decides which requests are traced, by the rules it holds."""

    rules: list[dict[str, Any]] = field(default_factory=lambda: [dict(DEFAULT_RULE)])
    _reservoirs: dict[str, _Reservoir] = field(default_factory=dict)

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        named = {r["RuleName"]: r for r in rules}
        named.setdefault("Default", dict(DEFAULT_RULE))
        self.rules = sorted(named.values(), key=lambda r: (r["Priority"], r["RuleName"]))

    def rule_for(
        self,
        service_name: str,
        service_type: str,
        *,
        host: str | None = None,
        method: str | None = None,
        url_path: str | None = None,
        resource_arn: str | None = None,
    ) -> dict[str, Any]:
        for rule in self.rules:
            if (
                _matches(rule["ServiceName"], service_name)
                and _matches(rule["ServiceType"], service_type)
                and _matches(rule["Host"], host)
                and _matches(rule["HTTPMethod"], method)
                and _matches(rule["URLPath"], url_path)
                and _matches(rule.get("ResourceARN", "*"), resource_arn)
            ):
                return rule
        return DEFAULT_RULE

    def sample(self, service_name: str, service_type: str, **request: Any) -> bool:
        return self.sampled_by(service_name, service_type, **request) is not None

    def sampled_by(self, service_name: str, service_type: str, **request: Any) -> str | None:
        """The name of the rule that picked the request, or None when it is not sampled
        (API Gateway records the rule in its segment's ``aws.xray.sampling_rule_name``)."""
        rule = self.rule_for(service_name, service_type, **request)
        reservoir = self._reservoirs.setdefault(rule["RuleName"], _Reservoir())
        now = int(time.time())
        if reservoir.second != now:
            reservoir.second, reservoir.used = now, 0
        if reservoir.used < int(rule["ReservoirSize"]):
            reservoir.used += 1
            return str(rule["RuleName"])
        return str(rule["RuleName"]) if random.random() < float(rule["FixedRate"]) else None


#: X-Ray allows 25 sampling rules besides Default.
MAX_RULES = 25
_RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def rule_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:xray:{region}:{account_id}:sampling-rule/{name}"


def _check_rule(rule: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """A rule's members, checked as the X-Ray API model constrains them."""
    limits = {
        "ResourceARN": 500,
        "ServiceName": 64,
        "ServiceType": 64,
        "Host": 64,
        "HTTPMethod": 10,
        "URLPath": 128,
    }
    out: dict[str, Any] = {}
    for key, longest in limits.items():
        if key in rule:
            value = rule[key]
            if not isinstance(value, str) or len(value) > longest:
                raise InvalidRequestException(f"{key} must be a string of at most {longest}")
            out[key] = value
        elif not partial:
            raise InvalidRequestException(f"{key} is required")
    numbers: dict[str, tuple[int, int | None]] = {"Priority": (1, 9999), "ReservoirSize": (0, None)}
    for key, (low, high) in numbers.items():
        if key in rule:
            value = rule[key]
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < low
                or (high is not None and value > high)
            ):
                raise InvalidRequestException(f"{key} must be an integer from {low} to {high}")
            out[key] = value
        elif not partial:
            raise InvalidRequestException(f"{key} is required")
    if "FixedRate" in rule:
        rate = rule["FixedRate"]
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise InvalidRequestException("FixedRate must be between 0 and 1")
        out["FixedRate"] = float(rate)
    elif not partial:
        raise InvalidRequestException("FixedRate is required")
    if "Attributes" in rule:
        attributes = rule["Attributes"]
        if not isinstance(attributes, dict) or len(attributes) > 5:
            raise InvalidRequestException("Attributes may have at most 5 entries")
        out["Attributes"] = attributes
    return out


class SamplingRules:
    """Sampling rules kept in the store, mirrored into the platform's sampler."""

    def __init__(self, store: Store, sampler: Sampler, *, region: str, account_id: str) -> None:
        self.store = store
        self.sampler = sampler
        self.region = region
        self.account_id = account_id
        self._records: dict[str, dict[str, Any]] = {}
        #: Held by a change for its commit, and by a reload for its read and its use, so
        #: that a reload never puts back what a change of this node has just replaced.
        self._changing = asyncio.Lock()

    async def load(self) -> None:
        """Read the rules (again: other nodes may have changed them); the sampler is
        given them when they differ from what it has (with none, it has the Default
        rule already)."""
        async with self._changing:
            rows = await self.store.run(self._rows)
            records = {name: record for name, record in rows}
            if records != self._records:
                self._records = records
                self._apply()

    async def follow(self) -> None:
        """:meth:`load` every REFRESH_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.load()
            except Exception:  # (the store is away: try again the next time)
                logger.warning("could not read the sampling rules", exc_info=True)

    async def _stored(self, write: Callable[..., None], *args: Any) -> None:
        """``write(*args)`` committed, not while a reload reads (the caller updates the
        rules right after, with no ``await`` in between)."""
        async with self._changing:
            await self.store.run(write, *args)

    def _rows(self) -> list[tuple[str, dict[str, Any]]]:
        with self.store.engine.connect() as connection:
            return [
                (
                    r.name,
                    {
                        "SamplingRule": r.rule,
                        "CreatedAt": r.created_at,
                        "ModifiedAt": r.modified_at,
                    },
                )
                for r in connection.execute(sa.select(sampling_rules))
            ]

    def _apply(self) -> None:
        self.sampler.set_rules([record["SamplingRule"] for record in self._records.values()])

    def records(self) -> list[dict[str, Any]]:
        """Every rule, Default included, as GetSamplingRules answers them."""
        default = {
            "SamplingRule": {
                **DEFAULT_RULE,
                "RuleARN": rule_arn(self.region, self.account_id, "Default"),
            },
            "CreatedAt": 0.0,
            "ModifiedAt": 0.0,
        }
        records = [r for name, r in self._records.items() if name != "Default"]
        if "Default" in self._records:
            default = self._records["Default"]
        return sorted(
            [*records, default],
            key=lambda r: (r["SamplingRule"]["Priority"], r["SamplingRule"]["RuleName"]),
        )

    def _name(self, name: Any, arn: Any) -> str:
        if isinstance(arn, str) and arn:
            name = arn.rpartition("/")[2]
        if not isinstance(name, str) or not name:
            raise InvalidRequestException("RuleName or RuleARN is required")
        return name

    async def create(self, rule: dict[str, Any]) -> dict[str, Any]:
        name = rule.get("RuleName")
        if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
            raise InvalidRequestException(
                "RuleName must be 1 to 32 letters, digits, hyphens and underscores"
            )
        if rule.get("Version", 1) != 1:
            raise InvalidRequestException("Version must be 1")
        if name in self._records or name == "Default":
            raise InvalidRequestException(f"A sampling rule named {name} already exists")
        if len(self._records) >= MAX_RULES:
            raise RuleLimitExceededException(f"There can be at most {MAX_RULES} sampling rules")
        checked = _check_rule(rule)
        now = time.time()
        stored = {
            **checked,
            "RuleName": name,
            "RuleARN": rule_arn(self.region, self.account_id, name),
            "Version": 1,
            "Attributes": checked.get("Attributes", {}),
        }
        record = {"SamplingRule": stored, "CreatedAt": now, "ModifiedAt": now}
        await self._stored(self._save, name, record, True)
        self._records[name] = record
        self._apply()
        return record

    async def update(self, update: dict[str, Any]) -> dict[str, Any]:
        name = self._name(update.get("RuleName"), update.get("RuleARN"))
        current = self._records.get(name)
        if current is None and name == "Default":
            current = next(r for r in self.records() if r["SamplingRule"]["RuleName"] == "Default")
        if current is None:
            raise InvalidRequestException(f"Sampling rule {name} does not exist")
        changes = _check_rule(update, partial=True)
        if name == "Default" and set(changes) - {"FixedRate", "ReservoirSize"}:
            raise InvalidRequestException(
                "The Default rule's FixedRate and ReservoirSize only may change"
            )
        record = {
            "SamplingRule": {**current["SamplingRule"], **changes},
            "CreatedAt": current["CreatedAt"],
            "ModifiedAt": time.time(),
        }
        await self._stored(self._save, name, record, name not in self._records)
        self._records[name] = record
        self._apply()
        return record

    async def delete(self, name: Any, arn: Any) -> dict[str, Any]:
        rule_name = self._name(name, arn)
        if rule_name == "Default":
            raise InvalidRequestException("The Default rule cannot be deleted")
        record = self._records.get(rule_name)
        if record is None:
            raise InvalidRequestException(f"Sampling rule {rule_name} does not exist")
        await self._stored(self._remove, rule_name)
        self._records.pop(rule_name, None)
        self._apply()
        return record

    def _save(self, name: str, record: dict[str, Any], create: bool) -> None:
        with self.store.engine.begin() as connection:
            values = {
                "rule": record["SamplingRule"],
                "created_at": record["CreatedAt"],
                "modified_at": record["ModifiedAt"],
            }
            if create:
                connection.execute(sampling_rules.insert().values(name=name, **values))
            else:
                connection.execute(
                    sampling_rules.update().where(sampling_rules.c.name == name).values(**values)
                )

    def _remove(self, name: str) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(sampling_rules.delete().where(sampling_rules.c.name == name))

    def targets(self, statistics: list[dict[str, Any]]) -> dict[str, Any]:
        """GetSamplingTargets: each reporting rule's rate and reservoir quota."""
        now = time.time()
        by_name = {r["SamplingRule"]["RuleName"]: r for r in self.records()}
        documents, unprocessed = [], []
        for item in statistics:
            record = by_name.get(str(item.get("RuleName")))
            if record is None:
                unprocessed.append(
                    {
                        "RuleName": item.get("RuleName"),
                        "ErrorCode": "400",
                        "Message": "no such sampling rule",
                    }
                )
                continue
            rule = record["SamplingRule"]
            documents.append(
                {
                    "RuleName": rule["RuleName"],
                    "FixedRate": rule["FixedRate"],
                    "ReservoirQuota": rule["ReservoirSize"],
                    "ReservoirQuotaTTL": now + 10,
                    "Interval": 10,
                }
            )
        modified = max([r["ModifiedAt"] for r in self.records()] or [0.0])
        return {
            "SamplingTargetDocuments": documents,
            "LastRuleModification": modified,
            "UnprocessedStatistics": unprocessed,
        }

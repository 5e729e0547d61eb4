"""The function registry: configuration in the store, cached in memory for the invoke path.

Reads (every invoke) are dictionary lookups; writes go to the store first and then
replace the cached entry. Every write also counts the store's registry generation up,
and each node reads that number every FOLLOW_SECONDS: when another node has moved it,
the node reloads its cache and announces the differences as its own changes (so other
nodes' functions, versions, aliases and settings reach this one within a quarter of a
second, and at once for an invoke of a function it did not know yet).

The registry is the one place a control-plane change is made: listeners hear each
change as a :class:`FunctionChange` (a new revision, reserved or provisioned
concurrency, the network tag, a deletion) and bring the other components (the Worker
Manager, the Counting Service) in line with what is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import logging
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gureum.counting import ConcurrencyLimits, check_reservation
from gureum.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.functions import config as cfg
from gureum.functions.code import CodeStore
from gureum.functions.config import LATEST, FunctionRef, FunctionVersion, with_metadata
from gureum.functions.layer_rules import FunctionLayer, check_combined_size, layer_version_missing
from gureum.store import FunctionRow, Store

logger = logging.getLogger(__name__)

#: How often a node reads whether other nodes changed the registry (one small read):
#: how long a function created through one node may be unknown to another.
FOLLOW_SECONDS = 0.25


class Change(enum.Enum):
    """What about a function changed."""

    CREATED = "created"
    #: $LATEST's configuration or code (a new RevisionId): new invokes, new sandboxes.
    REVISION = "revision"
    #: The ``gureum:network`` tag: a sandbox's network cannot change, so new sandboxes.
    NETWORK = "network"
    RESERVED_CONCURRENCY = "reserved-concurrency"
    #: The provisioned concurrency config of ``qualifier`` was put or deleted.
    PROVISIONED = "provisioned"
    #: Version ``qualifier`` was deleted.
    VERSION_DELETED = "version-deleted"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class FunctionChange:
    """One change the registry made, as its listeners hear it."""

    name: str
    kind: Change
    qualifier: str | None = None


class LayerLookup(Protocol):
    """How the registry finds the layer versions a function names (the layer registry)."""

    async def function_layers(self, arns: Sequence[str]) -> list[FunctionLayer]: ...


class FunctionRegistry:
    """Creates, updates, finds and deletes functions."""

    def __init__(
        self,
        store: Store,
        code: CodeStore,
        *,
        region: str,
        account_id: str,
        limits: ConcurrencyLimits | None = None,
        check_runtime: Callable[[str], None] | None = None,
        layers: LayerLookup | None = None,
    ) -> None:
        self.store = store
        self.code = code
        #: Where a function's ``Layers`` are looked up (None: no layer exists).
        self.layers = layers
        self.region = region
        self.account_id = account_id
        self.limits = limits or ConcurrencyLimits()
        #: Refuses a runtime the host cannot serve (InvalidParameterValueException).
        self.check_runtime = check_runtime or (lambda runtime: None)
        self._cache: dict[tuple[str, str], FunctionVersion] = {}
        self._listeners: list[Callable[[FunctionChange], None]] = []
        self._aliases: dict[tuple[str, str], dict[str, Any]] = {}
        #: The store's registry generation the cache was read at (None: not yet read).
        self._generation: int | None = None
        #: Held by a write for its commit, and by a refresh for its read and its use:
        #: so a refresh never puts back what a write of this node has just replaced.
        self._writing = asyncio.Lock()

    async def load(self) -> None:
        """Read every function version and alias (at start: no listener hears them)."""
        async with self._writing:
            found = await self.store.run(self.store.registry_since, None)
            assert found is not None
            self._take(*found)

    async def refresh(self) -> None:
        """Take in what other nodes changed since the cache was read (nothing when the
        store's generation has not moved), and tell the listeners as if it were this
        node's own change."""
        async with self._writing:
            found = await self.store.run(self.store.registry_since, self._generation)
            if found is None:
                return
            before = self._cache
            self._take(*found)
            changes = differences(before, self._cache)
        for change in changes:
            self._changed(change.name, change.kind, change.qualifier)

    def _take(
        self,
        generation: int,
        rows: Sequence[FunctionRow],
        aliases: Sequence[tuple[str, str, dict[str, Any]]],
    ) -> None:
        """The cache as the store gave it (``Store.registry_since``)."""
        self._generation = generation
        self._cache = {(r.name, r.version): FunctionVersion(r.config, r.code_sha256) for r in rows}
        self._aliases = {(function, name): config for function, name, config in aliases}

    async def follow(self) -> None:
        """:meth:`refresh`, every FOLLOW_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            try:
                await self.refresh()
            except Exception:  # (the store is away: try again the next time)
                logger.warning("could not read the function registry's changes", exc_info=True)

    async def _stored(self, write: Callable[..., Any], *args: Any) -> Any:
        """``write(*args)`` committed on the store's thread, not while a refresh reads.
        The caller updates the cache right after, with no ``await`` in between."""
        async with self._writing:
            return await self.store.run(write, *args)

    def on_change(self, listener: Callable[[FunctionChange], None]) -> None:
        """Call ``listener(change)`` after each change is stored."""
        self._listeners.append(listener)

    def _changed(self, name: str, kind: Change, qualifier: str | None = None) -> None:
        change = FunctionChange(name, kind, qualifier)
        for listener in self._listeners:
            listener(change)

    # lookups
    def ref(self, function_name: str, qualifier: str | None = None) -> FunctionRef:
        return cfg.parse_function_ref(function_name, qualifier, self.region, self.account_id)

    def get(self, function_name: str, qualifier: str | None = None) -> FunctionVersion:
        """The function version a request names; ResourceNotFoundException if none."""
        cached = self._cache.get((function_name, qualifier or LATEST))
        if cached is not None:
            return cached
        ref = self.ref(function_name, qualifier)
        found = self._cache.get((ref.name, ref.qualifier or LATEST))
        if found is None and ref.qualifier is not None:
            alias = self._aliases.get((ref.name, ref.qualifier))
            if alias is not None:
                found = self._cache.get((ref.name, route(alias)))
        if found is None:
            raise self.not_found(ref)
        return found

    async def find(self, function_name: str, qualifier: str | None = None) -> FunctionVersion:
        """:meth:`get`, and when this node knows no such function, once more after
        reading what other nodes changed (a function created through another node a
        moment ago is invoked here, not refused)."""
        try:
            return self.get(function_name, qualifier)
        except ResourceNotFoundException:
            await self.refresh()
            return self.get(function_name, qualifier)

    def not_found(self, ref: FunctionRef) -> ResourceNotFoundException:
        arn = cfg.function_arn(self.region, self.account_id, ref.name, ref.qualifier)
        return ResourceNotFoundException(f"Function not found: {arn}")

    def list_page(
        self, marker: str | None, max_items: int, all_versions: bool = False
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of functions ($LATEST, or every version with ``all_versions``)."""
        keys = sorted(
            (
                (name, version)
                for (name, version) in self._cache
                if all_versions or version == LATEST
            ),
            key=lambda key: (key[0], -1 if key[1] == LATEST else int(key[1])),
        )
        if marker:
            name, _, version = marker.partition(":")
            after = (name, -1 if version in ("", LATEST) else int(version))
            keys = [k for k in keys if (k[0], -1 if k[1] == LATEST else int(k[1])) > after]
        page = keys[:max_items]
        next_marker = None
        if len(keys) > max_items:
            next_marker = page[-1][0] if not all_versions else f"{page[-1][0]}:{page[-1][1]}"
        return [self._cache[key].config for key in page], next_marker

    # writes
    async def _store_zip(self, zip_b64: str) -> tuple[str, str, int, int]:
        try:
            data = base64.b64decode(zip_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            ) from None
        info = await asyncio.to_thread(self.code.put_zip, data)
        return info.sha256_hex, info.code_sha256, info.code_size, info.unzipped_size

    async def _requested_layers(self, params: dict[str, Any]) -> list[FunctionLayer] | None:
        """The layer versions a create or update names, resolved (None: it names none)."""
        arns = cfg.requested_layers(params)
        if arns is None:
            return None
        if self.layers is None:
            if arns:
                raise layer_version_missing(arns[0])
            return []
        return await self.layers.function_layers(arns)

    async def _unzipped_sizes(self, digests: Sequence[str]) -> list[int]:
        """What stored zips unpack to (a function's code, its layers')."""
        return [await asyncio.to_thread(self.code.unzipped_size, d) for d in digests]

    async def create(self, params: dict[str, Any]) -> dict[str, Any]:
        zip_b64 = cfg.require_zip_code(params.get("Code"))
        cfg.validate_tags(params.get("Tags"))
        # Validate the configuration before storing any code.
        checked = cfg.new_configuration(
            params, region=self.region, account=self.account_id, code_sha256="", code_size=0
        )
        await asyncio.to_thread(self.check_runtime, checked["Runtime"])
        layers = await self._requested_layers(params) or []
        hex_digest, code_sha256, size, unzipped = await self._store_zip(zip_b64)
        check_combined_size([unzipped, *(layer.unzipped_size for layer in layers)])
        config = cfg.new_configuration(
            params,
            region=self.region,
            account=self.account_id,
            code_sha256=code_sha256,
            code_size=size,
        )
        config = with_metadata(config, tags=dict(cfg.validate_tags(params.get("Tags")) or {}))
        config = cfg.with_layers(config, layers)
        row = FunctionRow(config["FunctionName"], LATEST, config, hex_digest, config["RevisionId"])
        await self._stored(self.store.create_function, row)
        self._cache[(row.name, LATEST)] = FunctionVersion(config, hex_digest)
        self._changed(row.name, Change.CREATED)
        if params.get("Publish"):
            return await self.publish(row.name, {})
        return config

    def _latest(self, function_name: str, qualifier: str | None) -> FunctionVersion:
        ref = self.ref(function_name, qualifier)
        if ref.qualifier not in (None, LATEST):
            raise InvalidParameterValueException(
                "Only $LATEST can be changed: published versions are immutable."
            )
        found = self._cache.get((ref.name, LATEST))
        if found is None:
            raise self.not_found(ref)
        return found

    async def _replace(
        self,
        current: FunctionVersion,
        config: dict[str, Any],
        hex_digest: str,
        expected_revision: str | None,
    ) -> dict[str, Any]:
        row = FunctionRow(current.name, LATEST, config, hex_digest, config["RevisionId"])
        try:
            await self._stored(self.store.update_function, row, expected_revision)
        except ResourceNotFoundException:
            self._cache.pop((current.name, LATEST), None)
            raise self.not_found(FunctionRef(current.name, None)) from None
        self._cache[(current.name, LATEST)] = FunctionVersion(config, hex_digest)
        self._changed(current.name, Change.REVISION)
        return config

    async def update_configuration(
        self, function_name: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        current = self._latest(function_name, None)
        config = cfg.updated_configuration(current.config, params)
        if config.get("Runtime") != current.config.get("Runtime"):
            await asyncio.to_thread(self.check_runtime, config["Runtime"])
        layers = await self._requested_layers(params)
        if layers is not None:
            (unzipped,) = await self._unzipped_sizes([current.code_sha256_hex])
            check_combined_size([unzipped, *(layer.unzipped_size for layer in layers)])
            config = cfg.with_layers(config, layers)
        return await self._replace(
            current, config, current.code_sha256_hex, params.get("RevisionId")
        )

    async def update_code(self, function_name: str, params: dict[str, Any]) -> dict[str, Any]:
        current = self._latest(function_name, None)
        zip_b64 = cfg.require_zip_code(params)
        hex_digest, code_sha256, size, unzipped = await self._store_zip(zip_b64)
        if current.layer_digests:  # the layers it keeps, with the new code
            check_combined_size([unzipped, *await self._unzipped_sizes(current.layer_digests)])
        config = cfg.with_code(current.config, code_sha256, size)
        if params.get("DryRun"):
            return {**current.config, "CodeSha256": code_sha256, "CodeSize": size}
        config = await self._replace(current, config, hex_digest, params.get("RevisionId"))
        if params.get("Publish"):
            return await self.publish(current.name, {})
        return config

    # tags
    def tags(self, function_name: str) -> dict[str, str]:
        """A function's tags (they are the function's, not any one version's)."""
        return self._latest(function_name, None).metadata.tags

    async def set_tags(
        self, function_name: str, add: dict[str, str], remove: Sequence[str] = ()
    ) -> None:
        """Add (or replace) and remove tags. Every version carries the function's tags, so
        a change is written to each; a change of ``gureum:network`` sends invokes to new
        sandboxes, which is the only way a sandbox's network can change."""
        latest = self._latest(function_name, None)
        before = latest.metadata.tags
        tags = {k: v for k, v in {**before, **add}.items() if k not in remove}
        cfg.check_tag_count(tags)
        for (name, _), version in list(self._cache.items()):
            if name == latest.name:
                await self._set_metadata(version, tags=tags)
        if before.get(cfg.NETWORK_TAG) != tags.get(cfg.NETWORK_TAG):
            self._changed(latest.name, Change.NETWORK)

    # versions
    async def _set_metadata(self, current: FunctionVersion, **changes: Any) -> None:
        """Store gureum's own metadata (FunctionMetadata's fields) on a version without a
        new RevisionId (no new sandboxes)."""
        config = with_metadata(current.config, **changes)
        row = FunctionRow(
            current.name, current.version, config, current.code_sha256_hex, current.revision_id
        )
        await self._stored(self.store.update_function, row, None)
        self._cache[(current.name, current.version)] = FunctionVersion(
            config, current.code_sha256_hex
        )

    async def publish(self, function_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """PublishVersion: an immutable, numbered snapshot of $LATEST."""
        current = self._latest(function_name, None)
        expected = params.get("RevisionId")
        if expected is not None and expected != current.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        code = params.get("CodeSha256")
        if code is not None and code != current.config["CodeSha256"]:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code}) is different from current CodeSHA256 in $LATEST "
                f"({current.config['CodeSha256']}). Please try again with the CodeSHA256 in "
                "$LATEST."
            )
        last = current.metadata.last_version
        previous = self._cache.get((current.name, str(last)))
        if previous is not None and previous.metadata.published_from == current.revision_id:
            return previous.config  # nothing changed since: Lambda answers the same version
        number = str(last + 1)
        config = with_metadata(
            current.config,
            **dict.fromkeys(cfg.LATEST_ONLY),
            published_from=current.revision_id,
        )
        config.update(
            {
                "Version": number,
                "FunctionArn": cfg.function_arn(self.region, self.account_id, current.name, number),
                "Description": params.get("Description", current.config.get("Description", "")),
                "LastModified": cfg.last_modified(),
                "RevisionId": str(uuid.uuid4()),
            }
        )
        if (config.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions":
            config["SnapStart"] = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
        row = FunctionRow(
            current.name, number, config, current.code_sha256_hex, config["RevisionId"]
        )
        await self._stored(self.store.create_function, row)
        self._cache[(current.name, number)] = FunctionVersion(config, current.code_sha256_hex)
        await self._set_metadata(current, last_version=int(number))
        return config

    def versions(self, function_name: str) -> list[dict[str, Any]]:
        """$LATEST and the published versions of a function, in order."""
        latest = self._latest(function_name, None)
        numbered = sorted(
            (
                fn
                for (name, version), fn in self._cache.items()
                if name == latest.name and version != LATEST
            ),
            key=lambda fn: int(fn.version),
        )
        return [latest.config, *(fn.config for fn in numbered)]

    async def set_reserved_concurrency(self, function_name: str, value: int | None) -> str:
        """Store a function's reserved concurrency (None: remove it); the function's name.

        A reservation must leave the account's unreserved pool its minimum. It is not
        part of the configuration: the RevisionId stays, and so do warm sandboxes.
        """
        latest = self._latest(function_name, None)
        if value is not None:
            check_reservation(self.reservations(), latest.name, value, self.limits)
        await self._set_metadata(latest, reserved_concurrency=value)
        self._changed(latest.name, Change.RESERVED_CONCURRENCY)
        return latest.name

    def reserved_concurrency(self, function_name: str) -> int | None:
        """A function's reserved concurrency (None: it has none)."""
        return self._latest(function_name, None).metadata.reserved_concurrency

    def code_digests(self) -> set[str]:
        """The code (content hashes) every stored function version names: its own and
        its layers' (a deleted layer version's too, while a version uses it)."""
        found = set()
        for version in self._cache.values():
            found.add(version.code_sha256_hex)
            found.update(version.layer_digests)
        return found

    def layer_combinations(self) -> set[tuple[str, ...]]:
        """The layers (their code, in order) of every stored function version that has
        any: each combination's merged ``/opt`` is kept."""
        return {v.layer_digests for v in self._cache.values() if v.layer_digests}

    def reservations(self) -> dict[str, int]:
        """Every function's reserved concurrency."""
        found = {}
        for (name, version), fn in self._cache.items():
            reserved = fn.metadata.reserved_concurrency if version == LATEST else None
            if reserved is not None:
                found[name] = int(reserved)
        return found

    async def delete(self, function_name: str, qualifier: str | None) -> None:
        ref = self.ref(function_name, qualifier)
        if ref.qualifier == LATEST:
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if ref.qualifier is not None:
            if (ref.name, ref.qualifier) not in self._cache:
                raise self.not_found(ref)
            users = sorted(
                name
                for (function, name), alias in self._aliases.items()
                if function == ref.name and ref.qualifier in alias_versions(alias)
            )
            if users:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: {users}"
                )
            await self._stored(self.store.delete_function_version, ref.name, ref.qualifier)
            self._cache.pop((ref.name, ref.qualifier), None)
            await self._forget_event_invoke_config(ref.name, ref.qualifier)
            self._changed(ref.name, Change.VERSION_DELETED, ref.qualifier)
            return
        if (ref.name, LATEST) not in self._cache:
            raise self.not_found(ref)
        await self._stored(self.store.delete_function, ref.name)
        for key in [key for key in self._cache if key[0] == ref.name]:
            del self._cache[key]
        for key in [key for key in self._aliases if key[0] == ref.name]:
            del self._aliases[key]
        self._changed(ref.name, Change.DELETED)

    # provisioned concurrency
    def provisioning_target(self, function_name: str, qualifier: str | None) -> FunctionVersion:
        """The published version a provisioned concurrency config keeps sandboxes of."""
        if not qualifier:
            raise InvalidParameterValueException("The Qualifier parameter is required.")
        ref = self.ref(function_name, qualifier)
        if ref.qualifier == LATEST:
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        self._latest(ref.name, None)
        alias = self._aliases.get((ref.name, str(ref.qualifier)))
        version = alias["FunctionVersion"] if alias else ref.qualifier
        if version == LATEST:
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to an alias of $LATEST."
            )
        found = self._cache.get((ref.name, str(version)))
        if found is None:
            raise self.not_found(ref)
        return found

    def provisioned_configs(self, function_name: str) -> dict[str, dict[str, Any]]:
        """qualifier -> {"Requested": n, "LastModified": ...} of a function."""
        return self._latest(function_name, None).metadata.provisioned

    async def set_provisioned(
        self, function_name: str, qualifier: str, requested: int | None
    ) -> FunctionVersion:
        """Put (or, with None, delete) the provisioned concurrency config of a published
        version or alias; the version whose sandboxes it keeps."""
        target = self.provisioning_target(function_name, qualifier)
        latest = self._latest(target.name, None)
        configs = latest.metadata.provisioned
        if requested is None:
            configs.pop(qualifier, None)
        else:
            configs[qualifier] = {"Requested": requested, "LastModified": cfg.last_modified()}
        await self._set_metadata(latest, provisioned=configs)
        self._changed(target.name, Change.PROVISIONED, qualifier)
        return target

    def provisioned_concurrency(self) -> list[tuple[FunctionVersion, str, int]]:
        """Every stored provisioned concurrency config: (its version, qualifier, requested).
        A config whose qualifier names nothing any more is left out."""
        found = []
        for (name, version), fn in list(self._cache.items()):
            if version != LATEST:
                continue
            for qualifier, wanted in fn.metadata.provisioned.items():
                try:
                    target = self.provisioning_target(name, qualifier)
                except (InvalidParameterValueException, ResourceNotFoundException):
                    continue
                found.append((target, qualifier, int(wanted["Requested"])))
        return found

    # asynchronous invocation settings
    def event_invoke_target(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """(function name, qualifier) an EventInvokeConfig request names; the qualifier is
        ``$LATEST`` when none is given, and must name a version or alias that exists."""
        ref = self.ref(function_name, qualifier)
        self._latest(ref.name, None)
        chosen = ref.qualifier or LATEST
        if chosen != LATEST and (
            (ref.name, chosen) not in self._cache and (ref.name, chosen) not in self._aliases
        ):
            raise self.not_found(ref)
        return ref.name, chosen

    def event_invoke_configs(self, function_name: str) -> dict[str, dict[str, Any]]:
        """qualifier -> stored EventInvokeConfig of a function."""
        return self._latest(function_name, None).metadata.event_invoke_configs

    async def set_event_invoke_config(
        self, function_name: str, qualifier: str, config: dict[str, Any] | None
    ) -> None:
        latest = self._latest(function_name, None)
        configs = latest.metadata.event_invoke_configs
        if config is None:
            configs.pop(qualifier, None)
        else:
            configs[qualifier] = config
        await self._set_metadata(latest, event_invoke_configs=configs)

    async def _forget_event_invoke_config(self, function_name: str, qualifier: str) -> None:
        """A deleted version's or alias's EventInvokeConfig goes with it, as on Lambda."""
        if qualifier in self.event_invoke_configs(function_name):
            await self.set_event_invoke_config(function_name, qualifier, None)

    # aliases
    def _alias_config(
        self, function: str, name: str, params: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A validated AliasConfiguration from Create/UpdateAlias ``params``."""
        version = params.get("FunctionVersion", (current or {}).get("FunctionVersion"))
        if not isinstance(version, str) or not version:
            raise InvalidParameterValueException("FunctionVersion is required.")
        if (function, version) not in self._cache:
            raise self.not_found(FunctionRef(function, version))
        config: dict[str, Any] = {
            "AliasArn": cfg.function_arn(self.region, self.account_id, function, name),
            "Name": name,
            "FunctionVersion": version,
            "Description": params.get("Description", (current or {}).get("Description", "")),
            "RevisionId": str(uuid.uuid4()),
        }
        routing = params.get("RoutingConfig", (current or {}).get("RoutingConfig"))
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if weights:
            if len(weights) > 1:
                raise InvalidParameterValueException(
                    "An alias can route to at most one additional version."
                )
            ((extra, weight),) = weights.items()
            if version == LATEST or extra == LATEST:
                raise InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if extra == version:
                raise InvalidParameterValueException(
                    "The additional version must differ from the alias's FunctionVersion."
                )
            if (function, extra) not in self._cache:
                raise self.not_found(FunctionRef(function, extra))
            if not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
                raise ValidationException(
                    f"1 validation error detected: Value '{weight}' at "
                    "'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
                    "Member must have value between 0.0 and 1.0"
                )
            config["RoutingConfig"] = {"AdditionalVersionWeights": {extra: float(weight)}}
        return config

    def _function_name(self, function_name: str) -> str:
        return self._latest(function_name, None).name

    async def create_alias(self, function_name: str, params: dict[str, Any]) -> dict[str, Any]:
        function = self._function_name(function_name)
        name = params.get("Name")
        if not isinstance(name, str) or not ALIAS_RE.match(name) or name == LATEST:
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )
        config = self._alias_config(function, name, params, None)
        await self._stored(lambda: self.store.put_alias(function, name, config, create=True))
        self._aliases[(function, name)] = config
        return config

    def get_alias(self, function_name: str, name: str) -> dict[str, Any]:
        function = self._function_name(function_name)
        alias = self._aliases.get((function, name))
        if alias is None:
            raise ResourceNotFoundException(
                "Cannot find alias arn: "
                f"{cfg.function_arn(self.region, self.account_id, function, name)}"
            )
        return alias

    async def update_alias(
        self, function_name: str, name: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        current = self.get_alias(function_name, name)
        function = self._function_name(function_name)
        config = self._alias_config(function, name, params, current)
        await self._stored(
            lambda: self.store.put_alias(function, name, config, params.get("RevisionId"))
        )
        self._aliases[(function, name)] = config
        return config

    async def delete_alias(self, function_name: str, name: str) -> None:
        self.get_alias(function_name, name)
        function = self._function_name(function_name)
        await self._stored(self.store.delete_alias, function, name)
        self._aliases.pop((function, name), None)
        await self._forget_event_invoke_config(function, name)

    def list_aliases(self, function_name: str, version: str | None) -> list[dict[str, Any]]:
        function = self._function_name(function_name)
        return [
            alias
            for (owner, name), alias in sorted(self._aliases.items())
            if owner == function and (version is None or version in alias_versions(alias))
        ]


ALIAS_RE = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")


def differences(
    before: dict[tuple[str, str], FunctionVersion], after: dict[tuple[str, str], FunctionVersion]
) -> list[FunctionChange]:
    """The changes that turn one cache of the registry into another, as the registry's
    own writes would have announced them."""
    changes: list[FunctionChange] = []
    for name in sorted({name for name, _ in before} | {name for name, _ in after}):
        old, new = before.get((name, LATEST)), after.get((name, LATEST))
        if new is None:
            if old is not None:
                changes.append(FunctionChange(name, Change.DELETED))
            continue
        now = new.metadata
        if old is None:
            # (and what was set on it since, as its own changes: a reservation made
            # right after the function, say, within one refresh)
            changes.append(FunctionChange(name, Change.CREATED))
            was = cfg.FunctionMetadata()
        else:
            was = old.metadata
            if old.revision_id != new.revision_id:
                changes.append(FunctionChange(name, Change.REVISION))
            if was.tags.get(cfg.NETWORK_TAG) != now.tags.get(cfg.NETWORK_TAG):
                changes.append(FunctionChange(name, Change.NETWORK))
        if was.reserved_concurrency != now.reserved_concurrency:
            changes.append(FunctionChange(name, Change.RESERVED_CONCURRENCY))
        for qualifier in sorted(set(was.provisioned) | set(now.provisioned)):
            if was.provisioned.get(qualifier) != now.provisioned.get(qualifier):
                changes.append(FunctionChange(name, Change.PROVISIONED, qualifier))
        for key in sorted(before):
            if key[0] == name and key[1] != LATEST and key not in after:
                changes.append(FunctionChange(name, Change.VERSION_DELETED, key[1]))
    return changes


def alias_versions(alias: dict[str, Any]) -> set[str]:
    """The versions an alias may send an invocation to."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return {alias["FunctionVersion"], *weights}


def route(alias: dict[str, Any]) -> str:
    """The version one invocation through ``alias`` goes to (weighted routing)."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    for version, weight in weights.items():
        if random.random() < weight:
            return str(version)
    return str(alias["FunctionVersion"])


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration without gureum's private members (its metadata)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}

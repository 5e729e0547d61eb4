"""The layer registry: Lambda layers' published versions, their code and their policies.

A layer is a name; each PublishLayerVersion stores a zip in the code store (by content
hash, as function code is) and a numbered, immutable version (numbers are never reused,
even after every version is deleted). A function names layer versions by ARN; the
registry resolves them (``function_layers``) for the function registry, which keeps
each one's code digest in the function version itself, so a deleted layer version goes
on working for the functions that already use it, and its code stays in the code store
until none does. The layers' SQL is in ``layer_store``; their rules in ``layer_rules``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Sequence
from typing import Any

from gureum.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from gureum.functions import layer_rules as rules
from gureum.functions.code import UNZIP_ERROR, CodeStore
from gureum.functions.layer_rules import FunctionLayer, LayerVersion, ListFilter
from gureum.functions.layer_store import LayerStore, LayerVersionRow, PolicyChange
from gureum.store import Store


class LayerRegistry:
    """Publishes, finds, lists and deletes layer versions, and keeps their policies."""

    def __init__(self, store: Store, code: CodeStore, *, region: str, account_id: str) -> None:
        self.store = LayerStore(store)
        self.code = code
        self.region = region
        self.account_id = account_id

    def _version(self, row: LayerVersionRow) -> LayerVersion:
        config = row.config
        return LayerVersion(
            name=row.name,
            version=row.version,
            layer_arn=rules.layer_arn(self.region, self.account_id, row.name),
            description=str(config.get("Description", "")),
            created_date=str(config["CreatedDate"]),
            compatible_runtimes=tuple(config.get("CompatibleRuntimes") or ()),
            compatible_architectures=tuple(config.get("CompatibleArchitectures") or ()),
            license_info=config.get("LicenseInfo"),
            code_sha256=str(config["CodeSha256"]),
            code_size=int(config["CodeSize"]),
            code_sha256_hex=row.code_sha256_hex,
            unzipped_size=row.unzipped_size,
        )

    def _name(self, layer_name: str) -> str:
        return rules.layer_name(layer_name, self.region, self.account_id)

    # publishing
    async def publish(self, layer_name: str, params: dict[str, Any]) -> LayerVersion:
        """PublishLayerVersion: store the zip and a new version of the layer."""
        request = rules.publish_request(layer_name, params)
        name = self._name(layer_name)
        try:
            data = base64.b64decode(request.zip_file, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValueException(UNZIP_ERROR) from None
        info = await asyncio.to_thread(self.code.put_zip, data)
        config: dict[str, Any] = {
            "Description": request.description,
            "CreatedDate": rules.created_date(),
            "CodeSha256": info.code_sha256,
            "CodeSize": info.code_size,
        }
        if request.compatible_runtimes:
            config["CompatibleRuntimes"] = list(request.compatible_runtimes)
        if request.compatible_architectures:
            config["CompatibleArchitectures"] = list(request.compatible_architectures)
        if request.license_info is not None:
            config["LicenseInfo"] = request.license_info
        version = await self.store.run(
            self.store.publish, name, config, info.sha256_hex, info.unzipped_size
        )
        row = LayerVersionRow(
            name, version, config, info.sha256_hex, info.unzipped_size, None, None
        )
        return self._version(row)

    # reading
    async def _row(self, layer_name: str, version: int | str) -> LayerVersionRow:
        number = rules.version_number(version)
        row = await self.store.run(self.store.get, self._name(layer_name), number)
        if row is None:
            raise ResourceNotFoundException(rules.NOT_FOUND)
        return row

    async def get(self, layer_name: str, version: int | str) -> LayerVersion:
        """GetLayerVersion."""
        return self._version(await self._row(layer_name, version))

    async def get_by_arn(self, arn: str) -> LayerVersion:
        """GetLayerVersionByArn."""
        parsed = rules.parse_version_arn(arn)
        if (parsed.region, parsed.account) != (self.region, self.account_id):
            raise ResourceNotFoundException(rules.NOT_FOUND)
        row = await self.store.run(self.store.get, parsed.name, parsed.version)
        if row is None:
            raise ResourceNotFoundException(rules.NOT_FOUND)
        return self._version(row)

    async def list_layers(
        self, wanted: ListFilter, marker: str | None
    ) -> tuple[list[tuple[str, LayerVersion]], str | None]:
        """ListLayers: each layer (by name) with its newest version that ``wanted``
        admits; a page after ``marker`` (a layer name) and the next page's marker."""
        latest: dict[str, LayerVersion] = {}
        for row in await self.store.run(self.store.versions):
            version = self._version(row)
            if row.name not in latest and wanted.admits(
                version.compatible_runtimes, version.compatible_architectures
            ):
                latest[row.name] = version  # rows come newest first
        names = sorted(name for name in latest if marker is None or name > marker)
        page = names[: wanted.max_items]
        next_marker = page[-1] if len(names) > len(page) else None
        return [(name, latest[name]) for name in page], next_marker

    async def list_versions(
        self, layer_name: str, wanted: ListFilter, marker: str | None
    ) -> tuple[list[LayerVersion], str | None]:
        """ListLayerVersions: the versions ``wanted`` admits, newest first; a page after
        ``marker`` (a version number) and the next page's marker."""
        name = self._name(layer_name)
        after = int(marker) if marker and marker.isdigit() else None
        versions = [
            version
            for version in map(self._version, await self.store.run(self.store.versions, name))
            if wanted.admits(version.compatible_runtimes, version.compatible_architectures)
            and (after is None or version.version < after)
        ]
        page = versions[: wanted.max_items]
        next_marker = str(page[-1].version) if len(versions) > len(page) else None
        return page, next_marker

    async def delete(self, layer_name: str, version: int | str) -> None:
        """DeleteLayerVersion: the version is gone for new uses; its code stays while a
        function version uses it (the code collection spares it). Deleting a version
        that does not exist succeeds, as on Lambda."""
        number = rules.version_number(version)
        await self.store.run(self.store.delete, self._name(layer_name), number)

    # permissions
    async def _change_policy(
        self,
        layer_name: str,
        version: int | str,
        change: PolicyChange,
    ) -> LayerVersionRow:
        number = rules.version_number(version)
        name = self._name(layer_name)
        row = await self.store.run(
            self.store.change_policy, name, number, change, str(uuid.uuid4())
        )
        if row is None:
            arn = rules.layer_version_arn(self.region, self.account_id, name, number)
            raise ResourceNotFoundException(f"Layer version {arn} does not exist.")
        return row

    async def add_permission(
        self, layer_name: str, version: int | str, params: dict[str, Any], revision_id: str | None
    ) -> tuple[dict[str, Any], str]:
        """AddLayerVersionPermission: the statement added and the policy's RevisionId."""
        number = rules.version_number(version)
        resource = rules.layer_version_arn(
            self.region, self.account_id, self._name(layer_name), number
        )
        sid, statement = rules.permission_statement(params, resource)

        def add(
            statements: list[dict[str, Any]] | None, current: str | None
        ) -> list[dict[str, Any]]:
            if revision_id is not None and revision_id != current:
                raise PreconditionFailedException(rules.REVISION_MISMATCH)
            if any(s["Sid"] == sid for s in statements or ()):
                raise ResourceConflictException(
                    f"The statement id ({sid}) provided already exists. Please provide a new "
                    "statement id, or remove the existing statement."
                )
            return [*(statements or ()), statement]

        row = await self._change_policy(layer_name, number, add)
        assert row.policy_revision is not None
        return statement, row.policy_revision

    async def get_policy(self, layer_name: str, version: int | str) -> tuple[str, str]:
        """GetLayerVersionPolicy: the policy document and its RevisionId."""
        number = rules.version_number(version)
        name = self._name(layer_name)
        row = await self.store.run(self.store.get, name, number)
        if row is None:
            arn = rules.layer_version_arn(self.region, self.account_id, name, number)
            raise ResourceNotFoundException(f"Layer version {arn} does not exist.")
        if not row.policy or row.policy_revision is None:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        return rules.policy_document(row.policy), row.policy_revision

    async def remove_permission(
        self, layer_name: str, version: int | str, statement_id: str, revision_id: str | None
    ) -> None:
        """RemoveLayerVersionPermission."""
        sid = rules.check_statement_id(statement_id)

        def remove(
            statements: list[dict[str, Any]] | None, current: str | None
        ) -> list[dict[str, Any]] | None:
            if revision_id is not None and revision_id != current:
                raise PreconditionFailedException(rules.REVISION_MISMATCH)
            if not any(s["Sid"] == sid for s in statements or ()):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            return [s for s in statements or () if s["Sid"] != sid] or None

        await self._change_policy(layer_name, version, remove)

    # what functions use
    async def function_layers(self, arns: Sequence[str]) -> list[FunctionLayer]:
        """The layer versions a function names, in order, for it to use: each must be
        in the function's region and account, and exist (not deleted)."""
        found = []
        for arn in arns:
            parsed = rules.check_layer_home(arn, self.region, self.account_id)
            row = await self.store.run(self.store.get, parsed.name, parsed.version)
            if row is None:
                raise rules.layer_version_missing(arn)
            found.append(
                FunctionLayer(
                    arn, int(row.config["CodeSize"]), row.code_sha256_hex, row.unzipped_size
                )
            )
        return found

    async def code_digests(self) -> set[str]:
        """The code of every layer version that is not deleted (the code collection
        keeps it, used or not)."""
        return await self.store.run(self.store.code_digests)

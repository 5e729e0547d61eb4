"""Layer storage: the SQL of layers and their published versions.

Beside its concept, as the logs' SQL is beside theirs; what differs between SQLite and
PostgreSQL is asked of the store (``insert``). Methods are synchronous and run on the
store's thread through :meth:`LayerStore.run`. Reads go to the store every time (no
cache): layers are control plane, and nodes sharing PostgreSQL see each other's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.tables import layer_versions, layers

T = TypeVar("T")
#: A policy change: (statements or None, RevisionId or None) -> the new statements.
PolicyChange = Callable[[list[dict[str, Any]] | None, str | None], list[dict[str, Any]] | None]


@dataclass(frozen=True, slots=True)
class LayerVersionRow:
    """One stored layer version."""

    name: str
    version: int
    config: dict[str, Any]
    code_sha256_hex: str
    unzipped_size: int
    policy: list[dict[str, Any]] | None
    policy_revision: str | None


def _row(record: Any) -> LayerVersionRow:
    return LayerVersionRow(
        record.name,
        int(record.version),
        record.config,
        record.code_sha256,
        int(record.unzipped_size),
        record.policy,
        record.policy_revision,
    )


class LayerStore:
    """Layers and their versions in SQLite or PostgreSQL."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one of this store's methods on the store's thread."""
        return await self.store.run(fn, *args)

    def publish(
        self, name: str, config: dict[str, Any], code_sha256_hex: str, unzipped_size: int
    ) -> int:
        """Store a new version of ``name`` (creating the layer); its number, one past the
        newest the layer has ever had."""
        upsert = self.store.insert(layers).values(name=name, last_version=1)
        numbered = upsert.on_conflict_do_update(
            index_elements=[layers.c.name], set_={"last_version": layers.c.last_version + 1}
        ).returning(layers.c.last_version)
        with self.store.engine.begin() as connection:
            version = int(connection.execute(numbered).scalar_one())
            connection.execute(
                layer_versions.insert().values(
                    name=name,
                    version=version,
                    config=config,
                    code_sha256=code_sha256_hex,
                    unzipped_size=unzipped_size,
                    policy=None,
                    policy_revision=None,
                )
            )
        return version

    def get(self, name: str, version: int) -> LayerVersionRow | None:
        with self.store.engine.connect() as connection:
            record = connection.execute(
                sa.select(layer_versions).where(
                    (layer_versions.c.name == name) & (layer_versions.c.version == version)
                )
            ).first()
        return None if record is None else _row(record)

    def versions(self, name: str | None = None) -> list[LayerVersionRow]:
        """The versions of one layer (or of every layer, by name), newest first."""
        query = sa.select(layer_versions)
        if name is not None:
            query = query.where(layer_versions.c.name == name)
        query = query.order_by(layer_versions.c.name, layer_versions.c.version.desc())
        with self.store.engine.connect() as connection:
            return [_row(r) for r in connection.execute(query)]

    def delete(self, name: str, version: int) -> bool:
        """Delete a version (its number stays used); True if it existed."""
        with self.store.engine.begin() as connection:
            deleted = connection.execute(
                layer_versions.delete().where(
                    (layer_versions.c.name == name) & (layer_versions.c.version == version)
                )
            )
        return bool(deleted.rowcount)

    def change_policy(
        self, name: str, version: int, change: PolicyChange, revision_id: str
    ) -> LayerVersionRow | None:
        """Replace a version's policy statements with ``change(statements, revision)``
        (which may raise to refuse), under a new ``revision_id``, in one transaction;
        the changed row, or None if the version does not exist."""
        where = (layer_versions.c.name == name) & (layer_versions.c.version == version)
        with self.store.engine.begin() as connection:
            record = connection.execute(
                sa.select(layer_versions).where(where).with_for_update()
            ).first()
            if record is None:
                return None
            statements = change(record.policy, record.policy_revision)
            revision = revision_id if statements else None
            connection.execute(
                layer_versions.update()
                .where(where)
                .values(policy=statements, policy_revision=revision)
            )
        return LayerVersionRow(
            name,
            version,
            record.config,
            record.code_sha256,
            int(record.unzipped_size),
            statements,
            revision,
        )

    def code_digests(self) -> set[str]:
        """The code (content hashes) of every stored layer version."""
        with self.store.engine.connect() as connection:
            return set(connection.execute(sa.select(layer_versions.c.code_sha256)).scalars())

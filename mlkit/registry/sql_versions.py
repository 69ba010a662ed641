"""Models, their numbered immutable versions (artifact copied and hashed before the row
commits) and aliases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypedDict

from sqlalchemy import Table, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError, UsageError
from mlkit.registry import listing
from mlkit.registry import query as q
from mlkit.registry.entities import Deployment, Lineage, ModelSummary, ModelVersion, Run
from mlkit.registry.hooks import pause_point
from mlkit.registry.schema import (
    AliasRow,
    Base,
    DeploymentRow,
    EventRow,
    ModelRow,
    ModelVersionRow,
    utcnow,
)
from mlkit.registry.sql_base import CHAMPION, PREVIOUS, SqlBase
from mlkit.registry.validation import (
    parse_ref,
    validate_json,
    validate_limit,
    validate_name,
    validate_tags,
    validate_version,
)


def _table(row: type[Base]) -> Table:
    """The table a row class maps (SQLAlchemy types ``__table__`` as any FromClause)."""
    table = row.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{row.__name__} is not mapped to a table")
    return table


# Registration's statements, built once (Core on the tables: no ORM unit of work per call).
_MODELS = _table(ModelRow)
_LOCK_MODEL = (
    select(_MODELS.c.id, _MODELS.c.last_version)
    .where(_MODELS.c.name == bindparam("name"))
    .with_for_update()
)
_INSERT_VERSION = insert(_table(ModelVersionRow))
_BUMP_MODEL = (
    update(_MODELS)
    .where(_MODELS.c.id == bindparam("id_"))
    .values(last_version=bindparam("last_version"), updated_at=bindparam("updated_at"))
)
_INSERT_EVENT = insert(_table(EventRow))


class _VersionValues(TypedDict):
    """A new version's columns (besides ``model_id``), as inserted and as returned."""

    version: int
    run_id: int | None
    artifact_uri: str
    artifact_sha256: str
    size_bytes: int
    metrics: dict[str, Any]
    signature: dict[str, Any]
    description: str
    tags: dict[str, Any]
    created_at: datetime


class _LineageSources(Protocol):
    """What ``lineage`` reads: the store it is mixed into also has runs and deployments."""

    def get_version(self, model: str, version: int | None = None) -> ModelVersion: ...

    def get_run(self, run_id: int) -> Run: ...

    def list_deployments(
        self, endpoint: str | None = None, active_only: bool = True
    ) -> list[Deployment]: ...


def _query(s: Session) -> listing.Query:
    return lambda sql, params: s.execute(text(sql), params).all()


class VersionsMixin(SqlBase):
    # -- models and versions ----------------------------------------------------------------------

    def register_version(
        self,
        model: str,
        source_dir: Path,
        *,
        run_id: int | None = None,
        metrics: dict[str, Any] | None = None,
        signature: dict[str, Any] | None = None,
        description: str = "",
        tags: dict[str, Any] | None = None,
    ) -> ModelVersion:
        validate_name("model", model)
        metrics_json = validate_json("metrics", metrics)
        signature_json = validate_json("signature", signature)
        tags_json = validate_tags(tags)
        if not Path(source_dir).is_dir():
            raise RegistryError(
                f"cannot register {source_dir}: not a directory",
                hint="pass the exported SavedModel directory",
            )
        written: list[str] = []

        def undo() -> None:
            while written:
                self.artifacts.delete(written.pop())

        def fn(s: Session) -> ModelVersion:
            # SQLAlchemy Core rather than the ORM's unit of work: registration is the hot write.
            now = utcnow()
            if run_id is not None:
                self._run(s, run_id)
            conn = s.connection()
            found = conn.execute(_LOCK_MODEL, {"name": model}).first()
            if found is None:
                key = conn.execute(
                    insert(_MODELS).values(
                        name=model, description="", created_at=now, updated_at=now
                    )
                ).inserted_primary_key
                if key is None:  # an INSERT of one row always has one
                    raise RegistryError(f"creating model {model!r} returned no id")
                model_id = key[0]
                last = 0
                self._log(s, now, "model_created", model)
            else:
                model_id, last = found[0], found[1] or 0
            number = last + 1
            stored = self.artifacts.put_dir(Path(source_dir), model, number)
            written.append(stored.uri)
            values = _VersionValues(
                version=number,
                run_id=run_id,
                artifact_uri=stored.uri,
                artifact_sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                metrics=metrics_json,
                signature=signature_json,
                description=description,
                tags=tags_json,
                created_at=now,
            )
            conn.execute(_INSERT_VERSION, {"model_id": model_id, **values})
            conn.execute(_BUMP_MODEL, {"id_": model_id, "last_version": number, "updated_at": now})
            payload = {"sha256": stored.sha256, "size_bytes": stored.size_bytes}
            conn.execute(
                _INSERT_EVENT,
                {
                    "at": now,
                    "kind": "version_registered",
                    "model": model,
                    "version": number,
                    "run_id": run_id,
                    "payload": payload,
                },
            )
            pause_point("register:before_commit")
            return ModelVersion(model=model, **values)

        result = self._write(f"register a version of model {model!r}", fn, on_fail=undo)
        return result

    def list_models(self) -> list[ModelSummary]:
        with self._read("list models") as s:
            return listing.list_models(_query(s))

    def list_versions(self, model: str, newest: int | None = None) -> list[ModelVersion]:
        if newest is not None:
            validate_limit(newest)
        with self._read(f"list versions of model {model!r}") as s:
            return listing.list_versions(_query(s), model, newest)

    def count_versions(self, model: str) -> int:
        with self._read(f"count versions of model {model!r}") as s:
            return listing.count_versions(_query(s), model)

    def search_versions(
        self,
        model: str,
        *,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
    ) -> list[ModelVersion]:
        return q.filter_versions(self.list_versions(model), where=where, sort=sort, limit=limit)

    def versions_of_run(self, run_id: int) -> list[ModelVersion]:
        with self._read(f"read versions of run {run_id}") as s:
            self._run(s, run_id)
            rows = s.execute(
                select(ModelVersionRow, ModelRow)
                .join(ModelRow, ModelVersionRow.model_id == ModelRow.id)
                .where(ModelVersionRow.run_id == run_id)
                .order_by(ModelRow.name, ModelVersionRow.version)
            ).all()
            return [self._mv(s, row, m) for row, m in rows]

    def lineage(self: _LineageSources, model: str, version: int) -> Lineage:
        mv = self.get_version(model, version)
        run = None if mv.run_id is None else self.get_run(mv.run_id)
        deployments = tuple(
            d
            for d in self.list_deployments(active_only=False)
            if d.model == model and d.version == mv.version
        )
        return Lineage(version=mv, run=run, deployments=deployments)

    def resolve(self, ref: str) -> ModelVersion:
        name, version, alias = parse_ref(ref)
        if alias is None:
            return self.get_version(name, version)
        with self._read(f"read model {name!r}") as s:
            m = self._model(s, name)
            aliases = self._aliases(s, m.id)
            if alias not in aliases:
                known = ", ".join(aliases) or "none"
                raise RegistryError(
                    f"model {name!r} has no alias {alias!r}", hint=f"its aliases: {known}"
                )
            return self._mv(s, self._version(s, m, aliases[alias]), m)

    def get_version(self, model: str, version: int | None = None) -> ModelVersion:
        with self._read(f"read model {model!r}") as s:
            m = self._model(s, model)
            return self._mv(s, self._version(s, m, version), m)

    def artifact_path(self, mv: ModelVersion, verify: bool = True) -> Path:
        if not verify:
            return self.artifacts.local_path(mv.artifact_uri)
        try:
            return self.artifacts.verify(mv.artifact_uri, mv.artifact_sha256)
        except RegistryError as exc:
            raise type(exc)(
                f"model {mv.model!r} version {mv.version}: {exc.message}", exc.hint
            ) from exc

    # -- aliases ----------------------------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: int) -> None:
        validate_name("alias", alias)

        def fn(s: Session) -> None:
            m = self._model(s, model, lock=True)
            self._version(s, m, validate_version(version))
            _refuse_serving_alias(alias, model, "set")
            self._put_alias(s, m, alias, version)
            m.updated_at = utcnow()
            self._event(s, "alias_set", model=model, version=version, alias=alias)

        self._write(f"set alias {alias!r} of model {model!r}", fn)

    def get_alias(self, model: str, alias: str) -> int | None:
        with self._read(f"read alias {alias!r} of model {model!r}") as s:
            return self._aliases(s, self._model(s, model).id).get(alias)

    def delete_alias(self, model: str, alias: str) -> None:
        def fn(s: Session) -> None:
            m = self._model(s, model, lock=True)
            _refuse_serving_alias(alias, model, "delete")
            row = s.scalars(
                select(AliasRow).where(AliasRow.model_id == m.id, AliasRow.alias == alias)
            ).one_or_none()
            if row is None:
                known = ", ".join(self._aliases(s, m.id)) or "none"
                raise RegistryError(
                    f"model {model!r} has no alias {alias!r}", hint=f"its aliases: {known}"
                )
            s.delete(row)
            m.updated_at = utcnow()
            self._event(s, "alias_deleted", model=model, version=row.version, alias=alias)

        self._write(f"delete alias {alias!r} of model {model!r}", fn)

    # -- tags, descriptions, deletion -------------------------------------------------------------

    def set_tags(
        self, model: str, version: int, tags: dict[str, str], remove: tuple[str, ...] = ()
    ) -> ModelVersion:
        tags_json = validate_tags(tags, remove)

        def fn(s: Session) -> ModelVersion:
            m = self._model(s, model, lock=True)
            row = self._version(s, m, validate_version(version))
            current = dict(row.tags or {})
            for key in remove:
                current.pop(key, None)
            current.update(tags_json)
            row.tags = current
            self._event(
                s, "tags_set", model=model, version=version, tags=tags_json, removed=list(remove)
            )
            s.flush()
            return self._mv(s, row, m)

        return self._write(f"tag model {model!r} version {version}", fn)

    def describe(self, model: str, description: str, version: int | None = None) -> None:
        if not isinstance(description, str):
            raise RegistryError("invalid description: expected text")

        def fn(s: Session) -> None:
            m = self._model(s, model, lock=True)
            if version is None:
                m.description = description
            else:
                self._version(s, m, validate_version(version)).description = description
            m.updated_at = utcnow()
            self._event(s, "described", model=model, version=version, description=description)

        self._write(f"describe model {model!r}", fn)

    def delete_version(self, model: str, version: int) -> None:
        deleted: list[str] = []

        def fn(s: Session) -> None:
            m = self._model(s, model, lock=True)
            row = self._version(s, m, validate_version(version))
            endpoints = s.scalars(
                select(DeploymentRow.endpoint).where(
                    DeploymentRow.model_id == m.id,
                    DeploymentRow.version == version,
                    DeploymentRow.active.is_(True),
                )
            ).all()
            if endpoints:
                raise RegistryError(
                    f"cannot delete model {model!r} version {version}: it is deployed on "
                    f"{', '.join(sorted(endpoints))}",
                    hint="deploy another version there first",
                )
            aliases = [a for a, v in self._aliases(s, m.id).items() if v == version]
            s.execute(
                delete(AliasRow).where(AliasRow.model_id == m.id, AliasRow.version == version)
            )
            m.last_version = max(m.last_version or 0, version)
            s.delete(row)
            m.updated_at = utcnow()
            self._event(
                s,
                "version_deleted",
                model=model,
                version=version,
                sha256=row.artifact_sha256,
                artifact_uri=row.artifact_uri,
                aliases=aliases,
            )
            deleted.append(row.artifact_uri)

        self._write(f"delete model {model!r} version {version}", fn)
        # After the commit: a crash here leaves an unreferenced directory, never a dangling row.
        for uri in deleted:
            self.artifacts.delete(uri)


def _refuse_serving_alias(alias: str, model: str, what: str) -> None:
    """``champion`` and ``previous`` say what serves: only deployments move them."""
    if alias in (CHAMPION, PREVIOUS):
        raise UsageError(
            f"cannot {what} alias {alias!r} of model {model!r} by hand: it names what serves "
            "and moves only with the deployments",
            hint=f"use mlkit deploy {model}, mlkit endpoints traffic or mlkit rollback",
        )

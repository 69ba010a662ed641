"""The SQL store's foundation: transactions with retries, one-line database errors, and the row
lookups (model, version, run, aliases) and event writes that every concern shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.artifacts import ArtifactStore
from mlkit.registry.db import one_line, writer
from mlkit.registry.entities import ModelVersion
from mlkit.registry.schema import (
    AliasRow,
    EventRow,
    ModelRow,
    ModelVersionRow,
    RunRow,
    utcnow,
)
from mlkit.registry.validation import (
    model_not_found,
    validate_run_id,
    validate_version,
    version_not_found,
)

T = TypeVar("T")
_ATTEMPTS = 5
CHAMPION, PREVIOUS = "champion", "previous"


def _db_error(action: str, exc: SQLAlchemyError) -> RegistryError:
    if isinstance(exc, OperationalError) and "locked" in one_line(exc).lower():
        return RegistryError(
            f"cannot {action}: the registry database is locked",
            hint="another mlkit process held it for over 30 s; try again",
        )
    return RegistryError(f"cannot {action}: {one_line(exc)}")


def _is_unique_violation(exc: BaseException) -> bool:
    if not isinstance(exc, IntegrityError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == "23505" or "UNIQUE" in one_line(exc).upper()


class SqlBase:
    """State and helpers shared by the store's concerns; not a store on its own."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore) -> None:
        self.engine = engine
        self.artifacts = artifacts
        self._writer = writer(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions -----------------------------------------------------------------------------

    def _write(
        self, action: str, fn: Callable[[Session], T], on_fail: Callable[[], None] | None = None
    ) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with Session(self._writer, expire_on_commit=False) as session:
                    with session.begin():
                        result = fn(session)
                    return result
            except BaseException as exc:
                if on_fail is not None:
                    on_fail()
                if _is_unique_violation(exc) and attempt < _ATTEMPTS:
                    continue  # lost a race on a unique constraint: read again and retry
                if isinstance(exc, SQLAlchemyError):
                    raise _db_error(action, exc) from exc
                raise
        raise AssertionError("unreachable")

    @contextmanager
    def _read(self, action: str) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise _db_error(action, exc) from exc

    # -- lookups (inside a session) ---------------------------------------------------------------

    def _model(self, s: Session, name: str, *, lock: bool = False) -> ModelRow:
        query = select(ModelRow).where(ModelRow.name == name)
        row = s.scalars(query.with_for_update() if lock else query).one_or_none()
        if row is None:
            known = s.scalars(select(ModelRow.name).order_by(ModelRow.name)).all()
            raise model_not_found(name, known)
        return row

    def _version(self, s: Session, model: ModelRow, version: int | None) -> ModelVersionRow:
        query = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
        if version is None:
            query = query.order_by(ModelVersionRow.version.desc()).limit(1)
        else:
            query = query.where(ModelVersionRow.version == validate_version(version))
        row = s.scalars(query).first()
        if row is None:
            numbers = s.scalars(
                select(ModelVersionRow.version)
                .where(ModelVersionRow.model_id == model.id)
                .order_by(ModelVersionRow.version)
            ).all()
            raise version_not_found(model.name, version, numbers)
        return row

    def _run(self, s: Session, run_id: int) -> RunRow:
        row = s.get(RunRow, run_id) if validate_run_id(run_id) >= 1 else None
        if row is None:
            raise RegistryError(f"run {run_id} not found")
        return row

    def _aliases(self, s: Session, model_id: int) -> dict[str, int]:
        rows = s.execute(
            select(AliasRow.alias, AliasRow.version)
            .where(AliasRow.model_id == model_id)
            .order_by(AliasRow.alias)
        ).all()
        return {alias: version for alias, version in rows}

    def _mv(self, s: Session, row: ModelVersionRow, model: ModelRow) -> ModelVersion:
        names = [a for a, v in self._aliases(s, model.id).items() if v == row.version]
        return convert.model_version(row, model.name, names)

    def _put_alias(self, s: Session, model: ModelRow, alias: str, version: int) -> None:
        row = s.scalars(
            select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.alias == alias)
        ).one_or_none()
        if row is None:
            s.add(AliasRow(model_id=model.id, alias=alias, version=version, updated_at=utcnow()))
        else:
            row.version, row.updated_at = version, utcnow()

    @staticmethod
    def _log(
        s: Session,
        at: datetime,
        kind: str,
        model: str | None = None,
        version: int | None = None,
        run_id: int | None = None,
        **payload: Any,
    ) -> None:
        """``_event`` as one Core INSERT (no ORM unit of work), for hot paths."""
        s.execute(
            insert(EventRow).values(
                at=at, kind=kind, model=model, version=version, run_id=run_id, payload=payload
            )
        )

    @staticmethod
    def _event(
        s: Session,
        kind: str,
        model: str | None = None,
        version: int | None = None,
        run_id: int | None = None,
        **payload: Any,
    ) -> None:
        s.add(
            EventRow(
                at=utcnow(), kind=kind, model=model, version=version, run_id=run_id, payload=payload
            )
        )

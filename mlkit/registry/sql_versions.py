"""Models, their numbered immutable versions (artifact copied and hashed before the row
commits) and aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlkit.errors import RegistryError
from mlkit.registry import convert
from mlkit.registry.entities import ModelSummary, ModelVersion
from mlkit.registry.schema import (
    AliasRow,
    ModelRow,
    ModelVersionRow,
    utcnow,
)
from mlkit.registry.sql_base import SqlBase
from mlkit.registry.validation import (
    validate_json,
    validate_name,
    validate_version,
)


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
    ) -> ModelVersion:
        validate_name("model", model)
        metrics_json = validate_json("metrics", metrics)
        signature_json = validate_json("signature", signature)
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
            now = utcnow()
            if run_id is not None:
                self._run(s, run_id)
            row = s.scalars(
                select(ModelRow).where(ModelRow.name == model).with_for_update()
            ).one_or_none()
            if row is None:
                row = ModelRow(name=model, description="", created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                self._event(s, "model_created", model=model)
            latest = s.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == row.id)
            )
            number = (latest or 0) + 1
            stored = self.artifacts.put_dir(Path(source_dir), model, number)
            written.append(stored.uri)
            mv = ModelVersionRow(
                model_id=row.id,
                version=number,
                run_id=run_id,
                artifact_uri=stored.uri,
                artifact_sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                metrics=metrics_json,
                signature=signature_json,
                description=description,
                tags={},
                created_at=now,
            )
            s.add(mv)
            row.updated_at = now
            self._event(
                s,
                "version_registered",
                model=model,
                version=number,
                run_id=run_id,
                sha256=stored.sha256,
                size_bytes=stored.size_bytes,
            )
            s.flush()
            return convert.model_version(mv, model)

        result = self._write(f"register a version of model {model!r}", fn, on_fail=undo)
        return result

    def list_models(self) -> list[ModelSummary]:
        with self._read("list models") as s:
            stats = {
                model_id: (count, latest)
                for model_id, count, latest in s.execute(
                    select(
                        ModelVersionRow.model_id,
                        func.count(ModelVersionRow.id),
                        func.max(ModelVersionRow.version),
                    ).group_by(ModelVersionRow.model_id)
                ).all()
            }
            aliases: dict[int, dict[str, int]] = {}
            for model_id, alias, version in s.execute(
                select(AliasRow.model_id, AliasRow.alias, AliasRow.version).order_by(AliasRow.alias)
            ).all():
                aliases.setdefault(model_id, {})[alias] = version
            return [
                ModelSummary(
                    name=m.name,
                    description=m.description,
                    version_count=stats.get(m.id, (0, None))[0],
                    latest_version=stats.get(m.id, (0, None))[1],
                    aliases=aliases.get(m.id, {}),
                    created_at=m.created_at,
                    updated_at=m.updated_at,
                )
                for m in s.scalars(select(ModelRow).order_by(ModelRow.name)).all()
            ]

    def list_versions(self, model: str) -> list[ModelVersion]:
        with self._read(f"list versions of model {model!r}") as s:
            m = self._model(s, model)
            by_version: dict[int, list[str]] = {}
            for alias, version in self._aliases(s, m.id).items():
                by_version.setdefault(version, []).append(alias)
            rows = s.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_id == m.id)
                .order_by(ModelVersionRow.version)
            ).all()
            return [convert.model_version(r, m.name, by_version.get(r.version, ())) for r in rows]

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
            self._put_alias(s, m, alias, version)
            m.updated_at = utcnow()
            self._event(s, "alias_set", model=model, version=version, alias=alias)

        self._write(f"set alias {alias!r} of model {model!r}", fn)

    def get_alias(self, model: str, alias: str) -> int | None:
        with self._read(f"read alias {alias!r} of model {model!r}") as s:
            return self._aliases(s, self._model(s, model).id).get(alias)

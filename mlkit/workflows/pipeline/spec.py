"""The pipeline file: a TOML file that names an experiment and the steps around it.

    [pipeline]
    name = "digits-nightly"
    experiment = "../experiments/digits.toml"   # relative to this file

    [ingest]                 # optional: a bundled dataset or a file, or a query, into a table
    source = "digits"
    [validate]               # statistics + drift gate against the champion's training run
    on_drift = "stop"        # or "warn"
    [train]
    when = "data_changed"    # or "always"
    [compare]
    [deploy]
    traffic = 100            # below 100: a canary share
    [notify]                 # optional: a command or a webhook URL
    command = "echo done"

A section present is a step that runs; the order is always ingest → validate → train → compare
→ deploy → notify. The whole file is validated before anything runs, one line per error (the
format of experiment files).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlkit.compat import tomllib
from mlkit.errors import SpecError
from mlkit.experiment import NAME_PATTERN, format_spec_errors

__all__ = ["STEP_NAMES", "LoadedPipeline", "PipelineSpec", "load_pipeline", "parse_pipeline"]

STEP_NAMES = ("ingest", "validate", "train", "compare", "deploy", "notify")
NOTIFY_ON = ("finished", "failed", "stopped")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineInfo(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    experiment: Annotated[str, Field(min_length=1)]  # path, relative to the pipeline file
    description: str = ""


class IngestStep(_Strict):
    """A bundled dataset or a file (``source``), or a SQL ``query`` on the warehouse, written
    as ``table`` (default: the experiment's ``[data] source``)."""

    source: Annotated[str | None, Field(min_length=1)] = None
    query: Annotated[str | None, Field(min_length=1)] = None
    params: dict[str, str | int | float | bool] = {}
    table: Annotated[str | None, Field(min_length=1)] = None

    @model_validator(mode="after")
    def _one_source(self) -> IngestStep:
        if (self.source is None) == (self.query is None):
            raise ValueError("give exactly one of source (a dataset or file) or query")
        if self.params and self.query is None:
            raise ValueError("params go with query")
        return self


class ValidateStep(_Strict):
    on_drift: Literal["stop", "warn"] = "stop"
    max_drifted: Annotated[int, Field(ge=0)] = 0  # drifted features tolerated before it fires


class TrainStep(_Strict):
    when: Literal["always", "data_changed"] = "data_changed"
    iterations: Annotated[int | None, Field(ge=1, le=100)] = None
    steps: Annotated[int | None, Field(ge=1)] = None
    max_steps: Annotated[int | None, Field(ge=1)] = None
    max_seconds: Annotated[float | None, Field(gt=0.0)] = None


class CompareStep(_Strict):
    data: Annotated[str | None, Field(min_length=1)] = None  # judge on this table's rows


class DeployStep(_Strict):
    when: Literal["passed"] = "passed"  # a failed verdict never deploys from a pipeline
    endpoint: Annotated[str, Field(min_length=1)] = "local"
    traffic: Annotated[int, Field(ge=1, le=100)] = 100


class NotifyStep(_Strict):
    command: Annotated[str | None, Field(min_length=1)] = None
    webhook: Annotated[str | None, Field(min_length=1)] = None
    on: list[Literal["finished", "failed", "stopped"]] = ["finished", "failed", "stopped"]

    @field_validator("webhook")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _one_target(self) -> NotifyStep:
        if (self.command is None) == (self.webhook is None):
            raise ValueError("give exactly one of command or webhook")
        return self


class PipelineSpec(_Strict):
    pipeline: PipelineInfo
    ingest: IngestStep | None = None
    validate_: ValidateStep | None = Field(default=None, alias="validate")
    train: TrainStep | None = None
    compare: CompareStep | None = None
    deploy: DeployStep | None = None
    notify: NotifyStep | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _chain(self) -> PipelineSpec:
        if not self.steps:
            raise ValueError("no steps: add at least one of [ingest], [validate], [train]")
        if self.compare is not None and self.train is None:
            raise ValueError("[compare] needs [train] (it compares the version train registers)")
        if self.deploy is not None and self.compare is None:
            raise ValueError("[deploy] needs [compare] (it deploys only on a passing verdict)")
        return self

    @property
    def steps(self) -> list[str]:
        """The steps this pipeline runs, in order (notify is not counted as work)."""
        present = {
            "ingest": self.ingest, "validate": self.validate_, "train": self.train,
            "compare": self.compare, "deploy": self.deploy, "notify": self.notify,
        }  # fmt: skip
        return [name for name in STEP_NAMES if present[name] is not None and name != "notify"]

    def step_config(self, name: str) -> dict[str, Any]:
        section = self.validate_ if name == "validate" else getattr(self, name)
        return {} if section is None else section.model_dump(mode="json")


@dataclass(frozen=True)
class LoadedPipeline:
    spec: PipelineSpec
    path: Path
    text: str
    experiment_path: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_pipeline(path: Path | str, *, experiment: Path | None = None) -> LoadedPipeline:
    """Parse and validate a pipeline file and the experiment it names (``experiment`` replaces
    that path: a component on Vertex AI writes both files where it runs)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"pipeline file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}") from None
    spec = parse_pipeline(raw, origin=str(path))
    target = experiment or (path.parent / spec.pipeline.experiment)
    if not target.is_file():
        raise SpecError(
            f"{path}: pipeline.experiment: experiment file {target} does not exist",
            hint="the path is relative to the pipeline file",
        )
    from mlkit.experiment import load_experiment

    load_experiment(target)  # its own errors, one line each
    return LoadedPipeline(spec, path, text, target)


def parse_pipeline(raw: dict[str, Any], origin: str = "pipeline") -> PipelineSpec:
    try:
        return PipelineSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_spec_errors(origin, exc, raw, PipelineSpec)) from None

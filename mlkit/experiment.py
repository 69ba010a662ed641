"""The experiment file: a TOML spec, validated as a whole before anything runs.

Every problem is reported at once, one line each, naming the key and what was expected::

    experiments/digits.toml: search.iterations: must be at least 1 (got 0)
    experiments/digits.toml: search.layer_sise: unknown key (did you mean 'layer_size'?)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlkit.compat import tomllib
from mlkit.errors import SpecError

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentInfo(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = ""
    model: Annotated[str | None, Field(pattern=NAME_PATTERN)] = None

    @property
    def model_name(self) -> str:
        return self.model or self.name


ColumnKind = Literal["numeric", "categorical", "boolean", "timestamp", "date", "array", "image"]


class FeatureSpec(_Strict):
    name: Annotated[str, Field(min_length=1)]
    shape: tuple[Annotated[int, Field(ge=1)], ...] = ()
    # The column's kind, when the schema's is not the one wanted (e.g. an INT64 store id that is
    # a category): see docs/data.md, "Column kinds".
    kind: ColumnKind | None = None


class SplitSpec(_Strict):
    eval: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    test: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2

    @field_validator("test")
    @classmethod
    def _leaves_training_rows(cls, test: float, info: Any) -> float:
        if info.data.get("eval", 0.0) + test >= 0.9:
            raise ValueError("eval + test must leave at least 10% of rows for training")
        return test


ParamValue = bool | int | float | str


class DataSpec(_Strict):
    # A local table, `bq://project.dataset.table`, or a SQL query (SELECT/WITH ...) whose named
    # parameters (@name) take their values from `params`; see docs/data.md.
    source: Annotated[str, Field(min_length=1)]
    label: Annotated[str, Field(min_length=1)]
    key: Annotated[str, Field(min_length=1)] = "id"
    # "auto" (the default): every column except the label, the key, extra_columns and exclude,
    # each of the kind its type gives (docs/data.md, "Column kinds"); or a list of features.
    features: list[FeatureSpec] | Literal["auto"] | None = None
    exclude: list[Annotated[str, Field(min_length=1)]] = []
    # Categorical vocabularies (from the training split): at most max_categories values, each
    # seen at least min_count times; the rest share the out-of-vocabulary id.
    max_categories: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    min_count: Annotated[int, Field(ge=1)] = 1
    split: SplitSpec = SplitSpec()
    params: dict[str, ParamValue | list[ParamValue]] = {}
    extra_columns: list[Annotated[str, Field(min_length=1)]] = []
    # Where a query runs (a bq:// source is always BigQuery), and BigQuery overrides of Google's
    # defaults (GOOGLE_CLOUD_PROJECT, application default credentials); `endpoint` and
    # `storage_endpoint` point at an emulator.
    backend: Literal["local", "bigquery"] | None = None
    project: str | None = None
    dataset: str | None = None
    credentials: str | None = None
    endpoint: str | None = None
    storage_endpoint: str | None = None
    # A source bigger than memory: stream it from the warehouse in record batches instead of
    # loading it (docs/data.md). Training shuffles `shuffle_buffer` rows at a time; the baseline
    # fits and scores on `sample_rows` rows of each split.
    stream: bool = False
    shuffle_buffer: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    sample_rows: Annotated[int, Field(ge=10, le=1_000_000)] = 10_000

    @field_validator("shuffle_buffer", "sample_rows")
    @classmethod
    def _only_when_streamed(cls, value: int, info: Any) -> int:
        # A run's stored experiment has every key, defaults included: only other values are wrong.
        default = cls.model_fields[info.field_name].default
        if not info.data.get("stream", False) and value != default:
            raise ValueError("only applies with stream = true (set it, or remove this key)")
        return value


# -- [search] --------------------------------------------------------------------------------

GeneratorName = Literal["dnn", "cnn", "linear"]
EnsemblerName = Literal["complexity_regularized", "mean"]
StrategyName = Literal["grow", "all", "solo"]
PoolEstimator = Literal["dnn", "linear", "boosted_trees"]


class BoostedTreesSpec(_Strict):
    """``[search.pool.boosted_trees]``: the pool's gradient-boosted trees (see docs/search.md)."""

    n_trees: Annotated[int, Field(ge=1, le=1000)] = 50
    max_depth: Annotated[int, Field(ge=1, le=8)] = 3
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1  # shrinkage of every leaf
    l2_regularization: Annotated[float, Field(ge=0.0)] = 1.0
    tree_complexity: Annotated[float, Field(ge=0.0)] = 0.0  # least gain a split must bring
    min_node_weight: Annotated[float, Field(ge=0.0)] = 1.0  # least hessian sum in each child
    n_batches_per_layer: Annotated[int, Field(ge=1, le=10_000)] = 8
    buckets: Annotated[int, Field(ge=2, le=256)] = 32  # quantile buckets per feature value
    center_bias: bool = True


class PoolSpec(_Strict):
    """``[search.pool]``: the canned estimators an ``auto_ensemble`` search chooses among."""

    estimators: Annotated[list[PoolEstimator], Field(min_length=1)] = ["dnn", "linear"]
    dnn_hidden_units: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1)] = [
        64,
        32,
    ]
    boosted_trees: BoostedTreesSpec = BoostedTreesSpec()


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class SearchSpec(_Strict):
    task: Literal["classification", "regression"] = "classification"
    # "adanet": subnetwork generators; "auto_ensemble": a pool of canned estimators ([search.pool]).
    method: Literal["adanet", "auto_ensemble"] = "adanet"
    # One name or a list; every generator proposes candidates at every iteration.
    generator: Annotated[list[GeneratorName], Field(min_length=1)] = ["dnn"]
    layer_size: Annotated[int, Field(ge=1, le=4096)] = 64
    max_width: Annotated[int | None, Field(ge=1, le=4096)] = None  # None: layer_size (no growth)
    max_depth: Annotated[int, Field(ge=1, le=20)] = 5
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # The CNN generator: which feature holds the image and its [height, width, channels].
    image_feature: Annotated[str | None, Field(min_length=1)] = None
    image_shape: tuple[Annotated[int, Field(ge=1)], ...] | None = None
    image_scale: Annotated[float, Field(gt=0.0)] = 1.0  # stored pixel values are divided by it
    cnn_filters: Annotated[int, Field(ge=1, le=1024)] = 32
    cnn_max_blocks: Annotated[int, Field(ge=1, le=4)] = 2
    cnn_augment: bool = True  # train on copies shifted by up to one pixel
    ensembler: Annotated[list[EnsemblerName], Field(min_length=1)] = ["complexity_regularized"]
    strategy: Annotated[list[StrategyName], Field(min_length=1)] = ["grow"]
    complexity_lambda: Annotated[float, Field(ge=0.0)] = 0.0
    complexity_beta: Annotated[float, Field(ge=0.0)] = 0.0
    optimizer: Literal["adam", "sgd", "adagrad", "rmsprop"] = "adam"
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 0.003
    # "cosine": the learning rate decays to 0 over each iteration; "constant": it does not.
    learning_rate_schedule: Literal["constant", "cosine"] = "constant"
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    iterations: Annotated[int, Field(ge=1, le=100)] = 3
    steps_per_iteration: Annotated[int, Field(ge=1)] = 1000
    # Budgets beyond iterations x steps_per_iteration: total steps, and wall-clock seconds of
    # training (the search stops, keeps the best ensemble so far and finishes normally).
    max_steps: Annotated[int | None, Field(ge=1)] = None
    max_seconds: Annotated[float | None, Field(gt=0.0)] = None
    # Also fit quick scikit-learn reference models on the same split (``baseline``: the old name).
    reference_models: bool = Field(
        default=True, validation_alias=AliasChoices("reference_models", "baseline")
    )
    pool: PoolSpec = PoolSpec()
    seed: int = 42

    @field_validator("generator", "ensembler", "strategy", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("image_shape")
    @classmethod
    def _image_shape(cls, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if shape is not None and len(shape) not in (2, 3):
            raise ValueError("must be [height, width] or [height, width, channels]")
        return shape

    @field_validator("max_width")
    @classmethod
    def _max_width(cls, width: int | None, info: Any) -> int | None:
        size = info.data.get("layer_size")
        if width is not None and size is not None and width < size:
            raise ValueError(f"must be at least layer_size ({size})")
        return width

    @property
    def total_steps(self) -> int:
        """The step budget: iterations x steps_per_iteration, capped by max_steps."""
        planned = self.iterations * self.steps_per_iteration
        return min(planned, self.max_steps) if self.max_steps else planned


# -- end of [search] ------------------------------------------------------------------------


# -- [promotion]: the policy a candidate must pass to be deployed (see docs/promotion.md) -------

# recall_K (a class id) or recall_NAME (a class name: letters, digits, _ . -)
PROMOTION_METRIC = r"^(accuracy|loss|auc|rmse|mae|latency_ms|size_mb|recall_[A-Za-z0-9_.\-]+)$"
QUALITY_METRIC = r"^(accuracy|loss|auc|rmse|mae|recall_[A-Za-z0-9_.\-]+)$"


def _metric_name(name: str | None, *, quality_only: bool = False) -> str | None:
    import re

    if name is None:
        return None
    if quality_only and not re.match(QUALITY_METRIC, name):
        raise ValueError(
            f"unknown quality metric {name!r} (expected accuracy, loss, auc, recall_K or "
            "recall_CLASS, rmse or mae)"
        )
    if not re.match(PROMOTION_METRIC, name):
        raise ValueError(
            f"unknown metric {name!r} (expected accuracy, loss, auc, recall_K or recall_CLASS, "
            "rmse, mae, "
            "latency_ms or size_mb)"
        )
    return name


def _check_metric_names(values: dict[str, float]) -> dict[str, float]:
    for name in values:
        _metric_name(name)
    return values


class ChangeThreshold(_Strict):
    """The candidate must improve ``metric`` over the baseline by at least ``absolute`` (or by
    ``relative`` times the baseline's value); a negative amount tolerates that much worsening."""

    metric: str
    direction: Literal["higher", "lower"] | None = None  # which way is better; default per metric
    absolute: float | None = None
    relative: float | None = None

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str | None:
        return _metric_name(metric)

    @field_validator("relative")
    @classmethod
    def _one_amount(cls, relative: float | None, info: Any) -> float | None:
        absolute = info.data.get("absolute")
        if (absolute is None) == (relative is None):
            raise ValueError("give exactly one of absolute or relative")
        return relative

    def model_post_init(self, __context: Any) -> None:
        if self.absolute is None and self.relative is None:
            raise ValueError("give exactly one of absolute or relative")


class SliceGuard(_Strict):
    """Per-slice guards over the values of ``column`` (a column of the evaluation table)."""

    column: Annotated[str, Field(min_length=1)]
    metric: str | None = None  # default: promotion.metric
    max_drop: Annotated[float, Field(ge=0.0)] = 0.0  # worst allowed worsening against the baseline
    at_least: float | None = None  # every slice's value at least this
    at_most: float | None = None  # every slice's value at most this
    min_rows: Annotated[int, Field(ge=1)] = 20  # smaller slices are shown but not guarded

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str | None) -> str | None:
        return _metric_name(metric, quality_only=True)


class SignificanceSpec(_Strict):
    required: bool = True
    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05
    resamples: Annotated[int, Field(ge=100, le=100_000)] = 1000  # bootstrap resamples
    seed: int = 0


class SmokeSpec(_Strict):
    enabled: bool = True
    requests: Annotated[int, Field(ge=1, le=100)] = 5
    instances: Annotated[int, Field(ge=1, le=1000)] = 8  # per request
    max_latency_ms: Annotated[float, Field(gt=0.0)] = 2000.0  # for the slowest request
    output_range: tuple[float, float] | None = None  # regression predictions must lie inside

    @field_validator("output_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError("output_range must be [low, high] with low < high")
        return value


class PromotionSpec(_Strict):
    # The headline metric: the candidate must beat the baseline on it by more than
    # min_improvement. Default: accuracy for classification, rmse for regression.
    metric: str | None = None
    min_improvement: Annotated[float, Field(ge=0.0)] = 0.0
    at_least: dict[str, float] = {}  # value thresholds: metric >= value
    at_most: dict[str, float] = {}  # value thresholds: metric <= value
    change: list[ChangeThreshold] = []
    slices: SliceGuard | None = None
    significance: SignificanceSpec = SignificanceSpec()
    smoke: SmokeSpec = SmokeSpec()
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 256  # rows per batch for latency

    def metric_for(self, task: str) -> str:
        """The headline metric: ``metric`` if set, else the task's own."""
        return self.metric or ("rmse" if task == "regression" else "accuracy")

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str | None) -> str | None:
        return _metric_name(metric, quality_only=True)

    @field_validator("at_least", "at_most")
    @classmethod
    def _known_metrics(cls, values: dict[str, float]) -> dict[str, float]:
        return _check_metric_names(values)


# -- [monitoring]: what `mlkit monitor NAME --check` holds a deployed model to (docs/monitoring.md)


class MonitoringSpec(_Strict):
    # Drift: a served feature whose PSI against the training run exceeds this breaks the rule
    # (judged once at least min_instances instances were served).
    max_psi: Annotated[float, Field(gt=0.0)] = 0.2
    min_instances: Annotated[int, Field(ge=1)] = 200
    # Live metrics from feedback (accuracy for classification, mae for regression): each
    # serving version's value must stay >= (accuracy) / <= (mae) these.
    min_accuracy: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    max_mae: Annotated[float, Field(ge=0.0)] | None = None
    max_p99_latency_ms: Annotated[float, Field(gt=0.0)] | None = None
    max_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # The bandit (`mlkit endpoints traffic NAME --policy bandit`): regression reward tolerance.
    reward_tolerance: Annotated[float, Field(gt=0.0)] | None = None


# -- [vertex]: where `mlkit train --backend vertex` trains (see docs/pipelines.md) ---------------

AcceleratorType = Literal[
    "NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB",
]  # fmt: skip


class VertexSpec(_Strict):
    """The Vertex AI job's machines and image: unset keys fall back to the environment
    (``MLKIT_VERTEX_IMAGE``, ``_MACHINE_TYPE``, ``_ACCELERATOR_TYPE``, ``_ACCELERATOR_COUNT``,
    ``_WORKERS``, ``_PS``), which overrides them, as ``--workers``/``--ps`` override both."""

    machine_type: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")] = None
    # An own image with mlkit installed (MLKIT_VERTEX_IMAGE overrides it); without one, the job
    # runs in Google's prebuilt TensorFlow 2.15 image with mlkit's package (docs/search.md).
    image: Annotated[str | None, Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?/[^\s]+$")] = None
    accelerator_type: AcceleratorType | None = None
    accelerator_count: Annotated[int | None, Field(ge=1, le=16)] = None
    workers: Annotated[int | None, Field(ge=0, le=1000)] = None  # replicas besides the chief
    ps: Annotated[int | None, Field(ge=0, le=100)] = None  # parameter servers

    @model_validator(mode="after")
    def _accelerator(self) -> VertexSpec:
        if (self.accelerator_type is None) != (self.accelerator_count is None):
            raise ValueError("give accelerator_type and accelerator_count together")
        return self


class Experiment(_Strict):
    experiment: ExperimentInfo
    data: DataSpec
    search: SearchSpec = SearchSpec()
    promotion: PromotionSpec = PromotionSpec()
    monitoring: MonitoringSpec = MonitoringSpec()
    vertex: VertexSpec = VertexSpec()

    def with_budget(
        self,
        *,
        iterations: int | None = None,
        steps: int | None = None,
        max_steps: int | None = None,
        max_seconds: float | None = None,
    ) -> Experiment:
        """A copy with the search budget overridden (from the command line)."""
        budget = {
            "iterations": iterations,
            "steps_per_iteration": steps,
            "max_steps": max_steps,
            "max_seconds": max_seconds,
        }
        changes = {k: v for k, v in budget.items() if v is not None}
        if not changes:
            return self
        merged = {**self.search.model_dump(), **changes}
        try:
            search = SearchSpec.model_validate(merged)
        except ValidationError as exc:
            raise SpecError(_format_errors("command line", exc, {})) from None
        return self.model_copy(update={"search": search})


def load_experiment(path: Path | str) -> tuple[Experiment, str]:
    """Parse and validate an experiment file; return it with its source text."""
    path = Path(path)
    if not path.is_file():
        hint = None
        folder = path.parent if path.parent.is_dir() else None
        if folder is not None:
            known = sorted(p.name for p in folder.glob("*.toml"))
            if known:
                hint = f"experiments in {folder}: {', '.join(known)}"
        raise SpecError(f"experiment file {path} does not exist", hint=hint)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}") from None
    return parse_experiment(raw, origin=str(path)), text


def parse_experiment(raw: dict[str, Any], origin: str = "experiment") -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_errors(origin, exc, raw)) from None


def _format_errors(
    origin: str, exc: ValidationError, raw: dict[str, Any], root: type[BaseModel] | None = None
) -> str:
    """One line per error: ``ORIGIN: KEY: what is wrong`` (``root``: the file's model, default
    Experiment; other spec files, such as pipelines, reuse this)."""
    lines = [f"{origin}: {_describe(error, raw, root or Experiment)}" for error in exc.errors()]
    return "\n".join(lines)


format_spec_errors = _format_errors


def _describe(error: Any, raw: dict[str, Any], root: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(error["loc"][:-1], root)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        suggestion = (
            f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(known)})"
        )
        return f"{loc}: unknown key{suggestion}"
    if kind == "missing":
        return f"{loc}: required key is missing"
    if kind == "string_pattern_mismatch":
        return (
            f"{loc}: must be lowercase letters, digits, '-' or '_', starting with a letter"
            f" (got {error['input']!r})"
        )
    message = error["msg"]
    for prefix in ("Value error, ", "Input should be "):
        if message.startswith(prefix):
            message = ("must be " if prefix == "Input should be " else "") + message[len(prefix) :]
    message = message.replace("greater than or equal to", "at least").replace(
        "less than or equal to", "at most"
    )
    got = error.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, dict | list) else ""
    return f"{loc}: {message}{shown}"


def _known_keys(parent: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    model: Any = root
    for part in parent:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            inner = [a for c in candidates for a in getattr(c, "__args__", ())]
            nested = [c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(model.model_fields)

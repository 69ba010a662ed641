"""The endpoint's model status pages: TF Serving's status and metadata of a model's versions
(``GET /v1/models/NAME[/versions/N|/labels/L][/metadata]``), and the batching counters of the
versions in memory (``/ready`` with the token, the queue-depth gauge)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mlkit.serving.answers import Info, json_response
from mlkit.serving.pool import ModelPool
from mlkit.serving.predicting import Predictor
from mlkit.serving.routing import Target


class StatusPages:
    def __init__(self, pool: ModelPool, predictor: Predictor) -> None:
        self.pool = pool
        self.predictor = predictor

    def version_status(self, name: str, target: Target) -> dict:
        state = self.pool.state(name, target.version)
        refused = self.pool.refused().get((name, target.version))
        return {
            "version": str(target.version),
            # TF Serving's states; a deployed version that is not in memory loads on first use.
            "state": {"UNLOADED": "START"}.get(state, state),
            "status": {
                "error_code": "OK" if refused is None else "FAILED_PRECONDITION",
                "error_message": refused or "",
            },
            "loaded": state == "AVAILABLE",
            "traffic_percent": target.percent,
        }

    def status(self, info: Info, name: str, version: str | None, label: str | None) -> Response:
        info.model = name
        targets = self.predictor.targets(info, name)
        chosen = targets
        if version is not None or label is not None:
            chosen = [self.predictor.choose(info, name, targets, version, label)]
        statuses = [self.version_status(name, t) for t in sorted(chosen, key=lambda t: t.version)]
        return json_response(200, {"model_version_status": statuses})

    async def metadata(
        self, info: Info, name: str, version: str | None, label: str | None
    ) -> Response:
        info.model = name
        targets = self.predictor.targets(info, name)
        if version is None and label is None:
            target = max(targets, key=lambda t: (t.percent, t.version))
        else:
            target = self.predictor.choose(info, name, targets, version, label)
        info.version = target.version
        runner = (await self.predictor.loaded(name, target)).runner
        return json_response(
            200,
            {
                "model_spec": {
                    "name": name,
                    "signature_name": runner.signature_name,
                    "version": str(target.version),
                },
                "metadata": {"signature_def": signature_def(runner)},
            },
        )

    def batching(self, model: str, version: int) -> dict:
        entry = self.pool.peek(model, version)
        batcher = entry.batcher if entry is not None else None
        return {
            "model": model,
            "version": version,
            "requests": batcher.requests if batcher else 0,
            "model_calls": batcher.calls if batcher else 0,
            "largest_batch": batcher.largest_batch if batcher else 0,
            "queue_depth": batcher.queue_depth if batcher else 0,
        }

    def queue_depths(self) -> list[tuple[str, int, int]]:
        depths = []
        for model, version in self.pool.loaded():
            entry = self.pool.peek(model, version)
            if entry is not None:
                depths.append((model, version, entry.batcher.queue_depth))
        return depths


_TF_DTYPES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "string": "DT_STRING",
    "object": "DT_STRING",
}


def signature_def(runner: Any) -> dict:
    """TF Serving's metadata shape for the signature the endpoint calls (a STRING or BYTES
    feature of an mlkit export is a DT_STRING input of shape [-1])."""

    def tensor(name: str, shape: tuple, dtype: str) -> dict:
        dims = [{"size": "-1"}] + [{"size": str(-1 if d is None else d)} for d in shape]
        return {"dtype": dtype, "tensor_shape": {"dim": dims}, "name": name}

    spec = getattr(runner, "serving_spec", None)
    if spec is None:  # a runner without stored forms: its float inputs
        spec = {n: (s, runner.input_dtypes[n].name) for n, s in runner.input_spec.items()}
    inputs = {
        name: tensor(name, shape, _TF_DTYPES.get(dtype, "DT_" + dtype.upper()))
        for name, (shape, dtype) in spec.items()
    }
    outputs = {name: {"name": name} for name in runner.output_names}
    return {
        "signature_def": {
            runner.signature_name: {
                "inputs": inputs,
                "outputs": outputs,
                "method_name": "tensorflow/serving/predict",
            }
        }
    }

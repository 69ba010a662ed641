"""What a search leaves in its run directory → the run report (JSON) and learning curves.

AdaNet writes ``report/iteration_reports.json``: each iteration's candidate subnetworks with their
hyperparameters, attributes (``complexity``), metrics on the evaluation split, and whether they
joined the ensemble. TensorBoard event files under ``ensemble/`` hold each candidate ensemble's


"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlkit.quantities import canonical_metrics

REPORT_VERSION = 1
_LOWER_IS_BETTER = ("loss", "adanet_loss", "rmse", "mse", "mae")
_MAX_POINTS = 60  # per curve, in the stored report


def iteration_reports(model_dir: Path) -> list[dict[str, Any]]:
    path = Path(model_dir) / "report" / "iteration_reports.json"
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text())
    except ValueError:
        return []


def headline_metric(metrics: dict[str, Any]) -> str | None:
    """The metric a person reads first: accuracy for classification, else the loss."""
    for name in ("accuracy", "loss"):
        if name in metrics:
            return name
    return None


def better(name: str, a: float, b: float) -> bool:
    return a < b if name in _LOWER_IS_BETTER else a > b


def best_candidate_metric(model_dir: Path) -> tuple[str, float] | None:
    """The best evaluation metric of any candidate in the finished iterations, if any."""
    best: tuple[str, float] | None = None
    for iteration in iteration_reports(model_dir):
        for candidate in iteration.get("subnetwork_reports", []):
            metrics = candidate.get("metrics", {})
            name = headline_metric(metrics)
            if name is None:
                continue
            value = float(metrics[name])
            if best is None or (best[0] == name and better(name, value, best[1])):
                best = (name, value)
    return best


def _candidates(iteration: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for candidate in iteration.get("subnetwork_reports", []):
        attributes = candidate.get("attributes", {})
        rows.append(
            {
                "name": candidate.get("name"),
                "hparams": candidate.get("hparams", {}),
                "complexity": attributes.get("complexity"),
                "metrics": canonical_metrics(
                    {
                        k: float(v)
                        for k, v in candidate.get("metrics", {}).items()
                        if isinstance(v, int | float) and not isinstance(v, bool)
                    }
                ),
                "joined_ensemble": bool(candidate.get("included_in_final_ensemble")),
            }
        )
    return rows


def search_report(
    model_dir: Path, members: list[str], curves: dict[str, list[list[float]]] | None = None
) -> dict[str, Any]:
    """The run report: every iteration's candidates, the final architecture, learning curves."""
    iterations: list[dict[str, Any]] = [
        {"iteration": int(it.get("iteration_number", i)), "candidates": _candidates(it)}
        for i, it in enumerate(iteration_reports(model_dir))
    ]
    final = _final_members(model_dir, members, len(iterations) - 1)
    if iterations:  # the last iteration's flags, from the final ensemble itself
        new = {m["name"] for m in final if m["iteration"] == iterations[-1]["iteration"]}
        for candidate in iterations[-1]["candidates"]:
            candidate["joined_ensemble"] = candidate["name"] in new
    return {
        "version": REPORT_VERSION,
        "iterations": iterations,
        "final": {"subnetworks": members, "members": final},
        "curves": curves or {},
    }


def _final_members(model_dir: Path, members: list[str], last: int) -> list[dict[str, Any]]:
    """The final ensemble's subnetworks with the iteration each was trained in.

    ``architecture-N.json`` is the ensemble after iteration N; AdaNet writes none for the last
    iteration, so the last one's members are those the previous ensemble did not have (all of
    them when a ``solo`` or ``all`` candidate won).
    """
    previous: list[dict[str, Any]] = []
    path = Path(model_dir) / f"architecture-{last - 1}.json"
    if last >= 1 and path.is_file():
        try:
            previous = [
                {"name": s["builder_name"], "iteration": int(s["iteration_number"])}
                for s in json.loads(path.read_text()).get("subnetworks", [])
            ]
        except (ValueError, KeyError, TypeError):
            previous = []
    names = [p["name"] for p in previous]
    if previous and members[: len(names)] == names:
        return previous + [{"name": m, "iteration": last} for m in members[len(names) :]]
    return [{"name": m, "iteration": max(last, 0)} for m in members]


def learning_curves(model_dir: Path) -> dict[str, list[list[float]]]:
    """``{candidate ensemble: [[global step, training loss], ...]}`` from TensorBoard events.

    Read with TensorBoard's own record reader and protos, without TensorFlow (its
    ``summary_iterator`` took ~1 s for a 2-iteration iris search, this 25 ms; and a process that
    only plots need not import TensorFlow: :mod:`mlkit.search.curves_process`). Records are
    checked against their CRCs; a file cut short by a killed process gives what it holds."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
    from tensorboard.util.tensor_util import make_ndarray

    curves: dict[str, list[list[float]]] = {}
    root = Path(model_dir) / "ensemble"
    if not root.is_dir():
        return curves
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        points: dict[int, float] = {}
        for events in sorted(folder.glob("events.out.tfevents.*")):
            reader = PyRecordReader_New(str(events).encode(), 0, b"", None)
            while True:
                try:
                    reader.GetNext()
                except (errors.OutOfRangeError, errors.DataLossError):  # the end, or cut short
                    break
                event = Event.FromString(reader.record())
                for value in event.summary.value:
                    if value.tag == "loss":
                        number = value.simple_value
                        if value.HasField("tensor"):
                            number = float(make_ndarray(value.tensor))
                        points[int(event.step)] = float(number)
        if points:
            steps = sorted(points)
            stride = max(1, len(steps) // _MAX_POINTS)
            curves[folder.name] = [[s, round(points[s], 6)] for s in steps[::stride]]
    return curves


def plot_learning_curves(report: dict[str, Any], path: Path, title: str = "") -> Path | None:
    """Training loss of every candidate ensemble, and each iteration's best evaluation metric."""
    curves = report.get("curves") or {}
    iterations = report.get("iterations") or []
    if not curves and not iterations:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, points in sorted(curves.items()):
        if points:
            left.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1)
    left.set_xlabel("global step")
    left.set_ylabel("training loss")
    left.set_yscale("log")
    left.set_title("candidate ensembles")
    if 0 < len(curves) <= 12:
        left.legend(fontsize=6)
    for_metric: dict[str, list[tuple[int, float]]] = {}
    for it in iterations:
        for candidate in it["candidates"]:
            name = headline_metric(candidate["metrics"])
            if name:
                for_metric.setdefault(candidate["name"], []).append(
                    (it["iteration"], candidate["metrics"][name])
                )
    metric_name = next(
        (headline_metric(c["metrics"]) for it in iterations for c in it["candidates"]), None
    )
    for name, points in sorted(for_metric.items()):
        right.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    right.set_xlabel("iteration")
    right.set_ylabel(f"evaluation {metric_name or 'metric'}")
    right.set_title("candidate subnetworks per iteration")
    if for_metric:
        right.legend(fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

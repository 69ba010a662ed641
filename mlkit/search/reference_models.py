"""Reference models: quick classical models (scikit-learn) on the search's train/test split.

Classification: logistic regression, an RBF SVM and a random forest; regression: ridge, an RBF
SVR and a random forest. All on standardised features (flattened lists), fitted on the training
split (the rows the search trains on), scored on the test
split. The best one is the bar the search has to clear. (A verdict's *baseline* is something
else: the registered version a candidate is compared with.) No TensorFlow here.

Tabular sources (``mlkit.data.columns``): each model is a pipeline of scikit-learn's
``SimpleImputer`` and ``StandardScaler`` for the numbers and ``OneHotEncoder`` (unknown
categories ignored) for the category ids, then the model.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mlkit.search.child_python import start_module

_FLOAT32_SLACK = 1e-6
SVM_MAX_ROWS = 20_000
"""RBF SVMs are left out above this many training rows: their fit grows with the square of the
rows (minutes at 50,000), while the linear model and the forest stay in seconds."""


def _matrix(features: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(features[n], dtype=np.float64).reshape(len(features[n]), -1)
            for n in sorted(features)
        ],
        axis=1,
    )


def _categorical(features: Mapping[str, np.ndarray]) -> list[int]:
    """Columns of :func:`_matrix` holding category ids (int arrays, ``mlkit.data.columns``)."""
    out, at = [], 0
    for name in sorted(features):
        values = np.asarray(features[name])
        width = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
        if values.dtype.kind in "iu" and values.ndim == 1:
            out.append(at)
        at += width
    return out


def _encoded(model: Any, categorical: list[int], scale: bool) -> Any:
    """``model`` behind the columns' preprocessing: missing values imputed with the training
    mean, category ids one-hot encoded (unknown ones all zero), the rest standardised."""
    if not categorical:
        return model
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = make_pipeline(SimpleImputer(), *([StandardScaler()] if scale else []))
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), categorical)],
        remainder=numbers,
    )
    steps = model.steps if hasattr(model, "steps") else [("model", model)]
    final = steps[-1][1]
    return make_pipeline(encode, final)


def _models(task: str, seed: int) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    if task == "regression":
        return {
            "ridge": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
            "svr_rbf": make_pipeline(StandardScaler(), SVR(C=10.0)),
            "random_forest": RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
        }
    return {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "svc_rbf": make_pipeline(StandardScaler(), SVC(C=10.0)),
        # Features on one scale already (pixels): per-feature scaling can hurt an RBF kernel.
        "svc_rbf_unscaled": SVC(C=10.0),
        "random_forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
    }


def fit_reference_models(
    task: str,
    train_features: Mapping[str, np.ndarray],
    train_labels: np.ndarray,
    test_features: Mapping[str, np.ndarray],
    test_labels: np.ndarray,
    seed: int = 42,
) -> dict[str, Any]:
    """``{"models": {name: {metric: value, "seconds": s}}, "best": name, "metric": name,
    "value": v}``; accuracy for classification (higher is better), RMSE for regression."""
    x_train, x_test = _matrix(train_features), _matrix(test_features)
    categorical = _categorical(train_features)
    results: dict[str, dict[str, float]] = {}
    for name, model in _models(task, seed).items():
        if categorical and name.endswith("_unscaled"):
            continue  # one scale for pixels; tabular columns have none
        if name.startswith(("svc", "svr")) and len(x_train) > SVM_MAX_ROWS:
            continue
        model = _encoded(model, categorical, scale=not name.startswith("random_forest"))
        started = time.perf_counter()
        y = train_labels.astype(np.float64 if task == "regression" else np.int64)
        model.fit(x_train, y)
        predicted = model.predict(x_test)
        seconds = round(time.perf_counter() - started, 3)
        if task == "regression":
            error = predicted - test_labels.astype(np.float64)
            results[name] = {
                "rmse": float(np.sqrt(np.mean(error**2))),
                "loss": float(np.mean(error**2)),
                "seconds": seconds,
            }
        else:
            results[name] = {
                "accuracy": float(np.mean(predicted == test_labels)),
                "seconds": seconds,
            }
    metric = "rmse" if task == "regression" else "accuracy"
    pick = min if task == "regression" else max
    best = pick(results, key=lambda n: results[n][metric])
    return {"models": results, "best": best, "metric": metric, "value": results[best][metric]}


def fit_in_new_process(
    task: str,
    train_features: Mapping[str, np.ndarray],
    train_labels: np.ndarray,
    test_features: Mapping[str, np.ndarray],
    test_labels: np.ndarray,
    seed: int = 42,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> dict[str, Any]:
    """:func:`fit_reference_models` in a new Python process (``python -m
    mlkit.search.reference_models``: the arguments pickled on its stdin, the answer as JSON on
    its stdout, the same numbers): beside a search, a thread's imports and fits held the
    interpreter lock the search's graph building needs, where a process runs on another core.
    ``on_start`` is given the process (to kill it if the search fails)."""
    arguments = (
        task,
        {k: np.asarray(v) for k, v in train_features.items()},
        np.asarray(train_labels),
        {k: np.asarray(v) for k, v in test_features.items()},
        np.asarray(test_labels),
        seed,
    )
    with start_module("mlkit.search.reference_models") as process:
        if on_start is not None:
            on_start(process)
        out, err = process.communicate(pickle.dumps(arguments, protocol=pickle.HIGHEST_PROTOCOL))
    text = err.decode(errors="replace")
    if process.returncode != 0:
        lines = text.strip().splitlines() or ["no message"]
        raise RuntimeError(f"the reference models failed (exit {process.returncode}): {lines[-1]}")
    if text.strip():  # scikit-learn's warnings, as a fit in this process would have shown them
        sys.stderr.write(text)
    answer: dict[str, Any] = json.loads(out)
    return answer


def _main() -> None:
    """The process of :func:`fit_in_new_process`."""
    arguments = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our own parent
    sys.stdout.write(json.dumps(fit_reference_models(*arguments)))


def beats_reference_models(
    task: str, search_metrics: Mapping[str, float], reference: Mapping[str, Any]
) -> bool | None:
    """True/False when the search's test metric is at least as good as the best reference
    model's; None when either is missing."""
    if not reference or "value" not in reference:
        return None
    if task == "regression":
        rmse = search_metrics.get("rmse")
        if rmse is None and "loss" in search_metrics:
            rmse = float(np.sqrt(search_metrics["loss"]))
        return None if rmse is None else bool(rmse <= reference["value"] * (1 + _FLOAT32_SLACK))
    accuracy = search_metrics.get("accuracy")
    # TensorFlow's accuracy is a float32: 139/145 is 0.95862067, scikit-learn's 0.9586206897.
    return None if accuracy is None else bool(accuracy >= reference["value"] - _FLOAT32_SLACK)


if __name__ == "__main__":
    _main()

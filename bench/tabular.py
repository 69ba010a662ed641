"""make bench-tabular: tables with categories and NULLs → the default search against scikit-learn,
and loading into training arrays against pandas + scikit-learn's encoders.

Two tables, each written to the local DuckDB warehouse:

- ``penguins`` (bundled, ``palmerpenguins``: 344 rows): species (a text label, 3 classes) from
  island and sex (text, NULLs) and four measurements (NULLs); classification.
- ``sales`` (generated, seeded, ``--rows`` rows, 60,000 by default): a daily sales amount from
  ``store`` (text, 40 values), ``region`` (text, 4 values, 3% empty), ``promo`` (boolean),
  ``day`` (a DATE over two years), ``price`` (float, 5% NULL) and ``footfall`` (integer, 2% NULL);
  regression. The amount is a sum of per-store and per-region effects, a promotion lift, a
  weekend and a seasonal term, price and footfall terms and Gaussian noise (see ``sales()``).

For each: ``load_splits`` (features "auto": kinds from the schema, vocabularies and imputation
from the training split), the scikit-learn baselines on the same split (imputation + one-hot
encoding pipelines; the best one is the bar), then the default search (``[search]`` defaults:
3 AdaNet iterations of 1,000 DNN steps) on the same split, its test metric against the best
baseline's (accuracy: higher is better; RMSE: lower is better).

Loading speed, on ``sales`` (``--rows``) and on a second table of the same generator with
``--load-rows`` rows (600,000 by default; ``load_speedup`` is this one, the figure a rate means
once fixed costs such as opening the file are small beside the rows; both are printed and in
``load_speedup_by_rows``): rows per second from the warehouse to training arrays, mlkit's
``load_splits`` (statistics and content hash included, as a run loads) against DuckDB's
``SELECT * ... .df()`` (its to_dataframe) followed by scikit-learn's ``SimpleImputer`` +
``OneHotEncoder`` in a ``ColumnTransformer`` (fit_transform; the date as days since 1970, day of
week and month with pandas). Best of ``--repeats`` runs each.

The machine is shared: timings are noisy. The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from mlkit.data import LocalWarehouse, load_bundled, load_splits  # noqa: E402
from mlkit.experiment import SearchSpec  # noqa: E402
from mlkit.search.reference_models import beats_reference_models, fit_reference_models  # noqa: E402


def log(message: str) -> None:
    print(f"[bench-tabular] {message}", flush=True)


def sales(rows: int, seed: int = 13) -> pa.Table:
    """The generated regression table (documented in the module docstring)."""
    rng = np.random.default_rng(seed)
    stores = np.array([f"s{i:02d}" for i in range(40)])
    store_effect = rng.normal(0, 20, len(stores))
    regions = np.array(["north", "south", "east", "west"])
    region_effect = np.array([5.0, -5.0, 10.0, 0.0])
    store = rng.integers(0, len(stores), rows)
    region = rng.integers(0, len(regions), rows)
    promo = rng.random(rows) < 0.3
    days = rng.integers(0, 730, rows)
    date = np.datetime64("2023-01-01") + days
    weekday = (days + 6) % 7  # 2023-01-01 was a Sunday; Monday 0
    price = rng.uniform(5, 50, rows)
    footfall = rng.poisson(200, rows)
    amount = (
        100
        + store_effect[store]
        + region_effect[region]
        + 25 * promo
        + 15 * (weekday >= 5)
        + 10 * np.sin(2 * np.pi * days / 365)
        - 1.5 * price
        + 0.2 * footfall
        + rng.normal(0, 8, rows)
    )
    region_text = regions[region].astype(object)
    region_text[rng.random(rows) < 0.03] = None
    price_values = np.where(rng.random(rows) < 0.05, np.nan, price)
    footfall_values = pa.array(footfall, pa.int64(), mask=rng.random(rows) < 0.02)
    return pa.table(
        {
            "id": pa.array(np.arange(rows), pa.int64()),
            "store": pa.array(stores[store].tolist()),
            "region": pa.array(region_text.tolist(), pa.string()),
            "promo": pa.array(promo),
            "day": pa.array(date.astype("datetime64[D]").astype(dt.date).tolist(), pa.date32()),
            "price": pa.array(price_values, pa.float64(), from_pandas=True),
            "footfall": footfall_values,
            "amount": pa.array(amount),
        }
    )


def run_dataset(name, warehouse, label, task, home: Path, steps: int | None) -> dict:
    from mlkit.search.runner import run_search

    started = time.perf_counter()
    data = load_splits(
        warehouse, name, label=label, features=None, key="id", eval_fraction=0.1,
        test_fraction=0.2, regression=task == "regression",
        exclude=["year"] if name == "penguins" else [],
    )  # fmt: skip
    load_s = time.perf_counter() - started
    kinds = data.fingerprint["kinds"]
    log(f"{name}: {data.rows()} rows; kinds {kinds}")
    started = time.perf_counter()
    baseline = fit_reference_models(
        task, data.train.features, data.train.labels, data.test.features, data.test.labels
    )
    baseline_s = time.perf_counter() - started
    spec = SearchSpec(task=task, **({"steps_per_iteration": steps} if steps else {}))
    started = time.perf_counter()
    result = run_search(
        spec, data.train, data.eval, data.test, n_classes=data.n_classes,
        model_dir=home / "runs" / name, columns=data.columns,
    )  # fmt: skip
    search_s = time.perf_counter() - started
    metrics = dict(result.metrics)
    if task == "regression":
        metrics["rmse"] = float(np.sqrt(metrics["loss"]))  # mean squared error per example
    metric = baseline["metric"]
    at_or_above = bool(beats_reference_models(task, metrics, baseline))
    log(
        f"{name}: search {metric} {metrics[metric]:.4f} in {search_s:.1f} s "
        f"({' + '.join(result.architecture['subnetworks'])}); best baseline {baseline['best']} "
        f"{baseline['value']:.4f} ({baseline_s:.1f} s); "
        f"{'at or above' if at_or_above else 'BELOW'} the baseline"
    )
    return {
        "name": name,
        "task": task,
        "rows": sum(data.rows().values()),
        "kinds": kinds,
        "metric": metric,
        "search": round(metrics[metric], 4),
        "baseline": baseline["best"],
        "baseline_value": round(baseline["value"], 4),
        "at_or_above_baseline": at_or_above,
        "train_seconds": round(search_s, 1),
        "baseline_seconds": round(baseline_s, 1),
        "load_seconds": round(load_s, 2),
    }


def pandas_sklearn(path: Path, table: str) -> tuple[int, float]:
    """DuckDB → pandas → scikit-learn's imputer and one-hot encoder: rows and seconds."""
    import duckdb
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    started = time.perf_counter()
    with duckdb.connect(str(path), read_only=True) as con:
        frame = con.execute(f"SELECT * FROM {table}").df()
    frame = frame.sort_values("id")
    days = frame["day"].astype("datetime64[s]")
    frame["day_days"] = (days - np.datetime64("1970-01-01")).dt.days
    frame["day_dow"] = days.dt.dayofweek
    frame["day_month"] = days.dt.month
    categories = ["store", "region"]
    numbers = ["promo", "price", "footfall", "day_days", "day_dow", "day_month"]
    frame["promo"] = frame["promo"].astype(float)
    encoder = ColumnTransformer(
        [
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categories,
            ),
            ("numbers", SimpleImputer(add_indicator=True), numbers),
        ]
    )
    matrix = encoder.fit_transform(frame[categories + numbers])
    labels = frame["amount"].to_numpy(np.float64)
    assert matrix.shape[0] == len(labels)
    return len(labels), time.perf_counter() - started


def mlkit_load(warehouse: LocalWarehouse, table: str) -> tuple[int, float]:
    started = time.perf_counter()
    data = load_splits(
        warehouse, table, label="amount", features=None, key="id", eval_fraction=0.1,
        test_fraction=0.2, regression=True,
    )  # fmt: skip
    return sum(data.rows().values()), time.perf_counter() - started


def compare_loading(
    warehouse: LocalWarehouse, path: Path, table: str, repeats: int
) -> tuple[float, float]:
    """Best rows/s of mlkit's load and of the pandas + scikit-learn path, alternated."""
    ours, theirs = [0.0], [0.0]
    for _ in range(repeats):
        rows, seconds = mlkit_load(warehouse, table)
        ours.append(rows / seconds)
        rows, seconds = pandas_sklearn(path, table)
        theirs.append(rows / seconds)
    return max(ours), max(theirs)


def loading_line(rows: int, ours: float, theirs: float) -> str:
    return (
        f"loading sales ({rows:,} rows) into training arrays: mlkit {ours:,.0f} rows/s, "
        f"DuckDB .df() + scikit-learn encoders {theirs:,.0f} rows/s: {ours / theirs:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000, help="rows of the sales table")
    parser.add_argument("--load-rows", type=int, default=600_000, help="rows of the table the "
                        "loading speed (load_speedup) is measured on, beside the --rows table: "
                        "rows/s is a rate, so measured where a load's fixed costs (opening the "
                        "file, about 0.15 s) do not decide it")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="steps per iteration (default: "
                        "the search's default)")  # fmt: skip
    parser.add_argument("--parts", default="load,penguins,sales", help="what to run, comma-"
                        "separated: load (the loading comparison), penguins, sales (the searches); "
                        "e.g. --parts load,penguins for a quick run")  # fmt: skip
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"load", "penguins", "sales"}
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; expected load, penguins, sales")
    with tempfile.TemporaryDirectory(prefix="bench-tabular-") as tmp:
        home = Path(tmp)
        path = home / "warehouse.duckdb"
        warehouse = LocalWarehouse(path)
        load_bundled("penguins", warehouse)
        warehouse.write_table("sales", sales(args.rows))
        datasets = []
        if "penguins" in parts:
            datasets.append(
                run_dataset("penguins", warehouse, "species", "classification", home, args.steps)
            )
        if "sales" in parts:
            datasets.append(
                run_dataset("sales", warehouse, "amount", "regression", home, args.steps)
            )
        loading: dict[int, tuple[float, float]] = {}
        if "load" in parts:
            loading[args.rows] = compare_loading(warehouse, path, "sales", args.repeats)
            log(loading_line(args.rows, *loading[args.rows]))
            if args.load_rows != args.rows:
                warehouse.write_table("sales_load", sales(args.load_rows))
                loading[args.load_rows] = compare_loading(
                    warehouse, path, "sales_load", args.repeats
                )
                log(loading_line(args.load_rows, *loading[args.load_rows]))
        ours, theirs = loading.get(args.load_rows, (0.0, 0.0))
        speedup = ours / theirs if theirs else None
    print(
        json.dumps(
            {
                "datasets": datasets,
                "at_or_above_baseline": (
                    all(d["at_or_above_baseline"] for d in datasets) if datasets else None
                ),
                "load_speedup": None if speedup is None else round(speedup, 2),
                "load_rows": args.load_rows,
                "load_rows_per_s": {"mlkit": round(ours), "pandas_sklearn": round(theirs)},
                "load_speedup_by_rows": {
                    str(n): round(o / t, 2) for n, (o, t) in sorted(loading.items())
                },
                "parts": sorted(parts),
                "rows": args.rows,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Writes examples/churn.csv: a small churn-like table (seeded, so the file is reproducible).

Columns: id, plan (basic | pro), region (us | eu), tenure_months, monthly_fee, support_calls,
autopay (true | false), signed_up (a date), churned (yes | no). About 5% of the plan, region,
tenure_months and monthly_fee cells are empty. Run: python examples/make_churn.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np


def rows(n: int = 400, seed: int = 7) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        plan = "pro" if rng.random() < 0.4 else "basic"
        region = "eu" if rng.random() < 0.45 else "us"
        tenure = int(rng.integers(1, 60))
        fee = round(float((49 if plan == "pro" else 19) + rng.normal(0, 4)), 2)
        calls = int(rng.poisson(3 if plan == "basic" else 1.5))
        autopay = bool(rng.random() < 0.6)
        signed = dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 700)))
        score = (
            -1.0 + 0.5 * calls - 0.05 * tenure + (0.8 if plan == "basic" else -0.6)
            + (0.4 if region == "eu" else 0.0) - (0.7 if autopay else 0.0)
        )
        churned = "yes" if rng.random() < 1 / (1 + np.exp(-score)) else "no"
        row: dict[str, object] = {
            "id": i, "plan": plan, "region": region, "tenure_months": tenure,
            "monthly_fee": fee, "support_calls": calls, "autopay": str(autopay).lower(),
            "signed_up": signed.isoformat(), "churned": churned,
        }  # fmt: skip
        for column in ("plan", "region", "tenure_months", "monthly_fee"):
            if rng.random() < 0.05:
                row[column] = ""
        out.append(row)
    return out


def main() -> None:
    path = Path(__file__).with_name("churn.csv")
    data = rows()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    print(f"wrote {len(data)} rows to {path}")


if __name__ == "__main__":
    main()

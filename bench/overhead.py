"""`make bench-overhead`: the fixed cost of a search (issue 19, item 1).

In one run, in a fresh project folder with the bundled iris table loaded:

1. **mlkit**: the wall time of `mlkit train experiments/iris.toml --steps 10` (2 AdaNet iterations
   of 10 steps on 150 rows), as a user runs it (a new process: imports included), and its
   breakdown by stage from the run's own clock (`--json`: `stages`, mlkit.search.stages);
2. **Keras**: a new process with a hand-written Keras model of the same final architecture (the
   winning ensemble's subnetworks: `linear`, `dnn_DxW`, their logits summed), trained for the
   same number of steps on the same training rows (mlkit's split), evaluated on the same test
   rows and exported as a SavedModel.

Both run 3 times, alternating (``--repeats N``); the walls are medians. The last line is one JSON
object: `mlkit_wall_s`, `keras_wall_s`, `ratio` (of the medians), `ratio_by_pair`, each side's
walls, `stages` (seconds by stage, of the median mlkit run), the architecture and the cores.
Target: ratio <= 3 and mlkit <= 12 s on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "iris.toml"
STEPS = 10

KERAS = r"""
import json, re, sys, time
started = time.perf_counter()
import numpy as np
from mlkit.config import load_settings
from mlkit.data.experiment_data import experiment_data
from mlkit.experiment import load_experiment
import tensorflow as tf

members, steps, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
experiment, _ = load_experiment(sys.argv[4])
s = experiment.search
data = experiment_data(experiment.data, load_settings(), task=s.task)
names = sorted(data.train.features)
def matrix(split):
    return np.concatenate([np.asarray(split.features[n], np.float32).reshape(len(split), -1)
                           for n in names], axis=1)
x, y = matrix(data.train), data.train.labels
tf.keras.utils.set_random_seed(s.seed)
inputs = tf.keras.Input(shape=(x.shape[1],))
norm = tf.keras.layers.Normalization()
norm.adapt(x)
h0 = norm(inputs)
logits = []
for member in members:
    found = re.match(r"dnn_(\d+)x(\d+)", member)
    h = h0
    for _ in range(int(found.group(1)) if found else 0):
        h = tf.keras.layers.Dense(int(found.group(2)), activation="relu")(h)
    logits.append(tf.keras.layers.Dense(data.n_classes)(h))
out_logits = logits[0] if len(logits) == 1 else tf.keras.layers.Add()(logits)
model = tf.keras.Model(inputs, out_logits)
model.compile(optimizer=tf.keras.optimizers.Adam(s.learning_rate),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
dataset = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=s.seed).repeat()
           .batch(s.batch_size))
model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
loss, accuracy = model.evaluate(matrix(data.test), data.test.labels, verbose=0)
tf.saved_model.save(model, out)
print(json.dumps({"seconds": time.perf_counter() - started, "accuracy": float(accuracy)}))
"""


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{' '.join(args[:4])} failed with exit code {done.returncode}")
    return seconds, done.stdout


def _pair(code: Path, home: Path, env: dict[str, str], round_: int) -> dict:
    """One mlkit run and one Keras run of the same architecture, one after the other."""
    mlkit = [sys.executable, "-m", "mlkit"]
    train = [*mlkit, "train", str(EXPERIMENT), "--steps", str(STEPS), "--json"]
    mlkit_wall, out = _run(train, env, home)
    outcome = json.loads(out)
    members = outcome["architecture"]["subnetworks"]
    total_steps = outcome["architecture"]["iterations"] * STEPS
    keras = [sys.executable, "-c", KERAS, json.dumps(members), str(total_steps)]
    keras_dir = str(home / f"keras-{round_}")
    keras_wall, keras_out = _run([*keras, keras_dir, str(EXPERIMENT)], env, home)
    keras_result = json.loads(keras_out.strip().splitlines()[-1])
    return {
        "mlkit_wall": mlkit_wall,
        "keras_wall": keras_wall,
        "outcome": outcome,
        "members": members,
        "steps": total_steps,
        "keras_accuracy": keras_result["accuracy"],
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    # `--code PATH`: time another checkout's mlkit (e.g. main, for a before/after figure).
    code = Path(sys.argv[sys.argv.index("--code") + 1]) if "--code" in sys.argv else REPO
    # `--repeats N`: N pairs (mlkit, then Keras), medians of each side. One pair swung the Keras
    # script alone from 8 s to 15 s on the same quiet machine.
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "MLKIT_HOME": str(home), "PYTHONPATH": str(code)}
        env.pop("MLKIT_REGISTRY_URL", None)
        _run([sys.executable, "-m", "mlkit", "data", "load", "iris"], env, home)
        pairs = [_pair(code, home, env, i) for i in range(repeats)]
    mlkit_wall = _median([p["mlkit_wall"] for p in pairs])
    keras_wall = _median([p["keras_wall"] for p in pairs])
    # The stages of the mlkit run whose wall is the median (the lower middle for an even count).
    middle = sorted(pairs, key=lambda p: p["mlkit_wall"])[(len(pairs) - 1) // 2]
    outcome, members = middle["outcome"], middle["members"]
    stages = outcome.get("stages", {})
    mlkit_walls = ", ".join(f"{p['mlkit_wall']:.1f}" for p in pairs)
    keras_walls = ", ".join(f"{p['keras_wall']:.1f}" for p in pairs)
    print(
        f"mlkit train iris --steps {STEPS}: {mlkit_wall:.1f} s wall, median of {repeats} "
        f"({mlkit_walls}; {' + '.join(members)}; "
        f"test accuracy {outcome['metrics'].get('accuracy', 0):.4f})"
    )
    for key, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<40} {seconds:7.2f} s")
    print(
        f"Keras, same architecture, {middle['steps']} steps, evaluated and exported: "
        f"{keras_wall:.1f} s wall, median of {repeats} "
        f"({keras_walls}; "
        f"test accuracy {middle['keras_accuracy']:.4f})"
    )
    summary = {
        "mlkit_wall_s": round(mlkit_wall, 2),
        "keras_wall_s": round(keras_wall, 2),
        "ratio": round(mlkit_wall / keras_wall, 2),
        "ratio_by_pair": [round(p["mlkit_wall"] / p["keras_wall"], 2) for p in pairs],
        "mlkit_walls_s": [round(p["mlkit_wall"], 2) for p in pairs],
        "keras_walls_s": [round(p["keras_wall"], 2) for p in pairs],
        "stages": stages,
        "architecture": members,
        "steps": middle["steps"],
        "cores": os.cpu_count(),
    }
    print(json.dumps(summary, sort_keys=True))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench-overhead`: the fixed cost of a search (issue 19, item 1).

In one run, in a fresh project folder with the bundled iris table loaded:

1. **mlkit**: the wall time of `mlkit train experiments/iris.toml --steps 10` (2 AdaNet iterations
   of 10 steps on 150 rows), as a user runs it (a new process: imports included), and its
   breakdown by stage from the run's own clock (`--json`: `stages`, mlkit.search.stages);
2. **Keras**: a new process with a hand-written Keras model of the same final architecture (the
   winning ensemble's subnetworks: `linear`, `dnn_DxW`, their logits summed), trained for the
   same number of steps on the same training rows (mlkit's split), evaluated on the same test
   rows and exported as a SavedModel.

The last line is one JSON object: `mlkit_wall_s`, `keras_wall_s`, `ratio` (mlkit / Keras),
`stages` (seconds by stage), the architecture and the machine's cores. Target: ratio <= 3 and
mlkit <= 12 s on 2 cores.
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


def main() -> int:
    # `--code PATH`: time another checkout's mlkit (e.g. main, for a before/after figure).
    code = Path(sys.argv[sys.argv.index("--code") + 1]) if "--code" in sys.argv else REPO
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "MLKIT_HOME": str(home), "PYTHONPATH": str(code)}
        env.pop("MLKIT_REGISTRY_URL", None)
        mlkit = [sys.executable, "-m", "mlkit"]
        _run([*mlkit, "data", "load", "iris"], env, home)
        train = [*mlkit, "train", str(EXPERIMENT), "--steps", str(STEPS), "--json"]
        mlkit_wall, out = _run(train, env, home)
        outcome = json.loads(out)
        members = outcome["architecture"]["subnetworks"]
        total_steps = outcome["architecture"]["iterations"] * STEPS
        keras = [sys.executable, "-c", KERAS, json.dumps(members), str(total_steps)]
        keras_wall, keras_out = _run([*keras, str(home / "keras"), str(EXPERIMENT)], env, home)
        keras_result = json.loads(keras_out.strip().splitlines()[-1])
    stages = outcome.get("stages", {})
    print(
        f"mlkit train iris --steps {STEPS}: {mlkit_wall:.1f} s wall "
        f"({' + '.join(members)}; test accuracy {outcome['metrics'].get('accuracy', 0):.4f})"
    )
    for key, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<40} {seconds:7.2f} s")
    print(
        f"Keras, same architecture, {total_steps} steps, evaluated and exported: "
        f"{keras_wall:.1f} s wall (test accuracy {keras_result['accuracy']:.4f})"
    )
    summary = {
        "mlkit_wall_s": round(mlkit_wall, 2),
        "keras_wall_s": round(keras_wall, 2),
        "ratio": round(mlkit_wall / keras_wall, 2),
        "stages": stages,
        "architecture": members,
        "steps": total_steps,
        "cores": os.cpu_count(),
    }
    print(json.dumps(summary, sort_keys=True))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

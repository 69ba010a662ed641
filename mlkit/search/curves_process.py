"""The learning curves and their plot, made in a new Python process beside the search's export.

Once the final ensemble is chosen, everything the curves and the plot read is on disk (the
candidate ensembles' TensorBoard events and every iteration's report); the export and the test
evaluation that follow take seconds of one core, and so do reading the events, importing
matplotlib and drawing (1.1-2.8 s for a 2-iteration iris search, docs/search.md). A process
(``python -m mlkit.search.curves_process MODEL_DIR PLOT``, no TensorFlow: it reads the events
with TensorBoard's reader) does them on the other core; :meth:`CurvesInBackground.result` waits
for it and gives the curves (its stdout, JSON). If that process cannot start or fails, the same
work is done here, as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlkit.search.child_python import start_module
from mlkit.search.reports import learning_curves, plot_learning_curves, search_report

Curves = dict[str, list[list[float]]]


def curves_and_plot(model_dir: Path, plot: Path) -> Curves:
    """Read the curves, draw them with the iterations' metrics into ``plot``; the curves."""
    curves = learning_curves(model_dir)
    plot_learning_curves(search_report(model_dir, [], curves), plot)
    return curves


class CurvesInBackground:
    """:func:`curves_and_plot` in a new process, started now; :meth:`result` waits for it."""

    def __init__(self, model_dir: Path, plot: Path) -> None:
        self.model_dir, self.plot = Path(model_dir), Path(plot)
        self._process: subprocess.Popen[bytes] | None
        try:
            self._process = start_module(
                "mlkit.search.curves_process",
                str(self.model_dir),
                str(self.plot),
                stdin=subprocess.DEVNULL,
            )
        except OSError:  # no process to be had: result() does the work here
            self._process = None

    def result(self) -> Curves:
        """The curves (the plot written); done in this process if the other one failed."""
        if self._process is not None:
            out, _ = self._process.communicate()
            if self._process.returncode == 0:
                try:
                    curves: Curves = json.loads(out)
                    return curves
                except ValueError:
                    pass
        return curves_and_plot(self.model_dir, self.plot)

    def stop(self) -> None:
        """End the process (the search failed: its plot is not wanted)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def _main() -> None:
    model_dir, plot = Path(sys.argv[1]), Path(sys.argv[2])
    sys.stdout.write(json.dumps(curves_and_plot(model_dir, plot)))


if __name__ == "__main__":
    _main()

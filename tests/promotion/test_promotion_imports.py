"""Rolling back moves registry rows only; it must not pay for importing TensorFlow."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import home_env


def test_rollback_and_compare_help_do_not_import_tensorflow(mlkit_home):
    code = (
        "import sys; from mlkit.cli import main; "
        "codes = [main(['rollback', 'nope']), main(['compare', '--help'])]; "
        "print(codes, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=home_env(mlkit_home),
        cwd=mlkit_home,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "model 'nope' not found" in done.stderr or "no model" in done.stderr.lower()
    assert done.stdout.strip().splitlines()[-1] == "[5, 0] False"

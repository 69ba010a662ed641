"""A BigQuery emulator (bqemulator) on loopback, for the tests and the data bench.

It runs from its own tool environment (``uv tool run``), not the project's: its pins (duckdb,
sqlglot, protobuf, pyarrow) conflict with TensorFlow 2.15's. The launcher registers the DuckDB
spatial extension bundled in ``duckdb-extension-spatial`` first, because bqemulator otherwise runs
``INSTALL spatial`` at start-up, which needs the internet.

    with BigQueryEmulator() as emulator:
        warehouse = BigQueryWarehouse(emulator.config(dataset="ds"))
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"
PACKAGES = (
    "bqemulator==1.4.0",
    "duckdb==1.5.5",
    "duckdb-extensions==1.5.5",
    "duckdb-extension-spatial==1.5.5",
    "numpy",
)
PROJECT = "test"
_LAUNCHER = """\
import sys

import duckdb
import duckdb_extensions

duckdb_extensions.import_extension("spatial", con=duckdb.connect())

from bqemulator.cli import main

sys.exit(main(["start", *sys.argv[1:]]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uv() -> str:
    if UV.exists():
        return str(UV)
    found = shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: run `make setup` (it installs .tools/bin/uv)")
    return found


class BigQueryEmulator:
    def __init__(self, start_timeout: float = 180.0) -> None:
        self.rest_port = _free_port()
        self.grpc_port = _free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="mlkit-bqemu-"))
        self.log = self._dir / "emulator.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def storage_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def config(self, dataset: str | None = None):
        from mlkit.data.bigquery import BigQueryConfig

        return BigQueryConfig(
            project=PROJECT,
            dataset=dataset,
            endpoint=self.endpoint,
            storage_endpoint=self.storage_endpoint,
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point mlkit at this emulator."""
        return {
            "MLKIT_BIGQUERY_PROJECT": PROJECT,
            "MLKIT_BIGQUERY_ENDPOINT": self.endpoint,
            "MLKIT_BIGQUERY_STORAGE_ENDPOINT": self.storage_endpoint,
        }

    def start(self) -> BigQueryEmulator:
        launcher = self._dir / "launch.py"
        launcher.write_text(_LAUNCHER)
        command = [_uv(), "tool", "run", "--python", "python3.11"]
        command += ["--from", PACKAGES[0]]
        for package in PACKAGES[1:]:
            command += ["--with", package]
        command += ["python", str(launcher)]
        command += ["--rest-host", "127.0.0.1", "--rest-port", str(self.rest_port)]
        command += ["--grpc-host", "127.0.0.1", "--grpc-port", str(self.grpc_port)]
        command += ["--project", PROJECT, "--log-level", "error"]
        env = {
            **os.environ,
            "UV_PYTHON_DOWNLOADS": "never",
            # Storage Read messages are capped at about 11 MiB by default: a batch of 65,536
            # MNIST-sized rows is larger.
            "BQEMU_WRITE_API_MAX_REQUEST_BYTES": str(1 << 30),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"bqemulator exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"bqemulator did not start in {self.start_timeout:.0f} s")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # uv runs the emulator as a child: signal the session this class started, by its id.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> BigQueryEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # python tests/bq_emulator.py: run one until Ctrl-C, print its settings
    with BigQueryEmulator() as emulator:
        for key, value in emulator.env().items():
            print(f"export {key}={value}")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

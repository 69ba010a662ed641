"""The CLI's fast exit after a command that loaded TensorFlow (``mlkit.cli._exit``) leaves as the
interpreter would: exit handlers run, streams flushed, and an idle thread pool left by a library
does not keep the process alive (a module-level pool's idle worker did: ``mlkit train`` on a
tabular table printed its result and never exited)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_an_idle_thread_pool_does_not_keep_the_process_alive_after_the_answer() -> None:
    script = textwrap.dedent(
        """
        import atexit
        from concurrent.futures import ThreadPoolExecutor
        import tensorflow  # the fast exit applies once TensorFlow is loaded
        from mlkit.cli import _exit

        POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idle")  # never shut down
        assert POOL.submit(lambda: 41 + 1).result() == 42
        atexit.register(lambda: print("exit handlers ran", flush=True))
        print("answer", end="")  # no newline: the stream is flushed on the way out
        _exit(3)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout.startswith("answer") and "exit handlers ran" in done.stdout

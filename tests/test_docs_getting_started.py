"""docs/getting-started.md shows what a user sees (issue 19, item 9): every `mlkit` command in its
shell blocks runs, in order, in a fresh project, and each output line it shows (besides the `·`
stage lines, which depend on timing) is found in what the command printed. Numbers in the docs
match any number and `...` anything; a train command gets a small budget (`--iterations 1
--steps 20`) to stay cheap, and `mlkit predict` the test's endpoint."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import registry_endpoint

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "getting-started.md"

pytestmark = pytest.mark.slow


def shown_commands(text: str) -> list[tuple[str, list[str]]]:
    """``(command, output lines shown after it)`` for each mlkit command of the ```sh blocks."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.removeprefix("$ ")
            if command.startswith("mlkit "):
                found.append((command.split("  #")[0].strip(), []))
            elif line.startswith("$ ") or not line.strip():
                continue
            elif found and block.lstrip().startswith("$ ") and not line.startswith("#"):
                found[-1][1].append(line)
    return found


def pattern(line: str) -> re.Pattern[str]:
    """A shown output line as a pattern: numbers match any number, `...` and paths anything."""
    parts = re.split(r"(\.\.\.|/path/to/\S*|\d[\d,.]*)", line.strip())
    regex = "".join(
        ".*" if p == "..." or p.startswith("/path/to/") else r"[\d,.]+" if p[:1].isdigit()
        else re.escape(p)
        for p in parts
    )  # fmt: skip
    return re.compile(regex)


def test_the_commands_parse_from_the_page():
    commands = [c for c, _ in shown_commands(DOC.read_text())]
    assert commands[:3] == ["mlkit data load digits", "mlkit data tables",
                            "mlkit train experiments/digits.toml"]  # fmt: skip
    assert "mlkit serve &" in commands and any(c.startswith("mlkit predict") for c in commands)


def test_every_command_of_getting_started_runs_and_prints_what_it_shows(mlkit_home, cli):
    with registry_endpoint() as url:
        for command, shown in shown_commands(DOC.read_text()):
            args = shlex.split(command)[1:]
            if args[-1] == "&":  # `mlkit serve &`: the test's endpoint stands in for it
                continue
            if args[0] == "train":
                args = [str(REPO / args[1]), *args[2:], "--iterations", "1", "--steps", "20"]
                args.insert(0, "train")
            if args[0] == "predict":
                args = [*(str(REPO / a) if a.startswith("experiments/") else a for a in args),
                        "--url", url]  # fmt: skip
            result = cli(*args)
            assert result.code == 0, f"{command}: {result.err}"
            for line in shown:
                if line.startswith("·") or line.startswith("iteration "):
                    continue
                assert pattern(line).search(result.out), f"{command}: {line!r} not in\n{result.out}"

"""The CLI stays thin: every command's function, options included, fits in ``LIMIT`` lines.

docs/architecture.md: a command parses its options, calls one workflow or service function and
renders the outcome. Decisions (which endpoint, which baseline, which option combinations are
valid, which message an outcome deserves) live in ``mlkit.workflows``, where they are tested
without typer. The guide is about 30 lines per command; ``LIMIT`` (45) leaves room for a command
with many options, which group them as typed ``Annotated`` aliases (see ``mlkit.cli.serve``) so
each takes one line of the signature. A command that grows past it is doing the layer below's
work: move that work down rather than raise the limit.
"""

from __future__ import annotations

import inspect

import typer.main

from mlkit.cli.app import app

LIMIT = 45


def _commands(command, path: str = "mlkit"):
    # typer vendors click (typer._click): a group is whatever has sub-commands
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for name, sub in subcommands.items():
            yield from _commands(sub, f"{path} {name}")
    elif command.callback is not None:
        yield path, command.callback


def test_every_command_is_walked():
    paths = {path for path, _ in _commands(typer.main.get_command(app))}
    # the top-level commands and at least one of each group
    for expected in ("mlkit train", "mlkit deploy", "mlkit serve", "mlkit models versions"):
        assert expected in paths
    assert len(paths) >= 20


def _too_long(typer_app: typer.Typer, limit: int) -> list[str]:
    found = []
    for path, callback in _commands(typer.main.get_command(typer_app)):
        # typer wraps callbacks; the function written in mlkit/cli is the innermost one
        function = inspect.unwrap(callback)
        lines, start = inspect.getsourcelines(function)
        if len(lines) > limit:
            where = f"{inspect.getsourcefile(function)}:{start}"
            found.append(f"{path}: {len(lines)} lines ({where})")
    return found


def test_every_command_fits_in_the_limit():
    too_long = _too_long(app, LIMIT)
    assert not too_long, f"commands over {LIMIT} lines: " + "; ".join(too_long)


def test_a_long_command_is_found():
    """The check measures what it should: a command's lines, options included, in a group too."""
    demo = typer.Typer()
    group = typer.Typer()
    demo.add_typer(group, name="group")

    @demo.command("short")
    def short(flag: bool = typer.Option(False, "--flag")) -> None:
        print(flag)

    @group.command("long")
    def long(
        a: int = typer.Option(0, "--a"),
        b: int = typer.Option(0, "--b"),
    ) -> None:
        print(a)
        print(b)

    assert _too_long(demo, 7) == []
    found = _too_long(demo, 6)
    assert len(found) == 1 and found[0].startswith("mlkit group long: 7 lines")

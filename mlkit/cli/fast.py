"""The two listings people run most, ``mlkit models list`` and ``mlkit models versions NAME``,
dispatched without building typer's parameter machinery.

typer (0.29) turns every parameter into a pydantic ``TypeAdapter`` when a command line is parsed:
about a quarter of a second of start-up here, as much as the whole rest of these commands; and
importing typer with every command module costs another tenth. So the installed script (``run``)
and ``main`` first offer the arguments to ``dispatch``, which accepts exactly the documented
options of these two commands and calls the same command bodies (``listings``); anything else
(``--help``, an unknown or invalid option, other commands) returns None and goes through typer as
usual, which also produces the usage errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """Never prints or exits: a missing NAME (which ``exit_on_error=False`` does not cover) goes
    to typer too, which prints the one usage error."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def _parser(with_name: bool) -> argparse.ArgumentParser:
    parser = _Parser(add_help=False, exit_on_error=False, allow_abbrev=False)
    if with_name:
        parser.add_argument("name")
        parser.add_argument("--where", "-w")
        parser.add_argument("--sort")
        parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true", dest="as_json")
    return parser


def dispatch(argv: Sequence[str]) -> int | None:
    """Run ``models list`` / ``models versions`` and return 0, or None to leave it to typer."""
    args = list(argv)
    if len(args) < 2 or args[0] != "models" or args[1] not in ("list", "versions"):
        return None
    if any(a in ("--help", "-h") or a.startswith("--help") for a in args):
        return None
    try:
        ns, rest = _parser(args[1] == "versions").parse_known_args(args[2:])
    except (argparse.ArgumentError, SystemExit):
        return None
    if rest or (args[1] == "versions" and (ns.limit < 0 or ns.name.startswith("-"))):
        return None
    from mlkit.cli import listings
    from mlkit.config import set_starts_project

    set_starts_project(False)  # a listing reads a project; it never starts one
    try:
        if args[1] == "list":
            listings.list_models(ns.as_json)
        else:
            listings.versions(ns.name, ns.where, ns.sort, ns.limit, ns.as_json)
    finally:
        set_starts_project(None)
    return 0


def run_fast(argv: Sequence[str]) -> int | None:
    """``dispatch`` with the CLI's error handling, for the installed script before typer loads:
    errors become one line and an exit code, as in ``app.main``. None: not handled here."""
    try:
        return dispatch(argv)
    except (Exception, KeyboardInterrupt) as exc:
        from mlkit.cli.output import report_error

        return report_error(exc)

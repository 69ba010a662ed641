"""The ``mlkit`` command: wiring and the one place where errors become exit codes."""

from __future__ import annotations

import sys

import typer
from typer.exceptions import Abort, Exit, TyperException

from mlkit import __version__
from mlkit.cli import (
    compare,
    config,
    data,
    deploy,
    endpoints,
    fast,
    models,
    monitor,
    pipeline,
    predict,
    registry,
    runs,
    serve,
    train,
    ui,
)
from mlkit.cli.argv import normalize, starts_project
from mlkit.cli.output import error, report_error
from mlkit.config import set_registry_url, set_starts_project
from mlkit.errors import INTERRUPTED, INVALID_INPUT

app = typer.Typer(
    name="mlkit",
    help="AutoML experiments (AdaNet), a SQL model registry and serverless endpoints.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(registry.app, name="registry")
app.add_typer(runs.app, name="runs")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(pipeline.app, name="pipeline")
app.command("train")(train.train)
app.command("deploy")(deploy.deploy)
app.command("serve")(serve.serve)
app.command("predict")(predict.predict)
app.command("compare")(compare.compare)
app.command("rollback")(deploy.rollback)
app.command("monitor")(monitor.monitor)
app.command("config")(config.config)
app.command("ui")(ui.ui)

_state = {"verbose": False}


def _print_version(value: bool) -> None:
    if value:
        print(f"mlkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show tracebacks on errors (before or after the command)."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print mlkit's version and exit.",
    ),
    registry_url: str = typer.Option(
        None, "--registry", help="The registry's SQLAlchemy URL (overrides MLKIT_REGISTRY_URL)."
    ),
) -> None:
    _state["verbose"] = verbose
    set_registry_url(registry_url)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map every error to one line on stderr and an exit code."""
    _state["verbose"] = False
    set_registry_url(None)
    args = normalize(sys.argv[1:] if argv is None else argv)
    set_starts_project(starts_project(args))
    try:
        code = fast.dispatch(args)
        if code is None:
            command = typer.main.get_command(app)
            code = command.main(args=args, prog_name="mlkit", standalone_mode=False)
        code = code if isinstance(code, int) else 0
        if code == INTERRUPTED:  # typer turns Ctrl-C into exit code 130
            error("interrupted")
        return code
    except Exit as exc:
        return exc.exit_code
    except TyperException as exc:  # bad usage: typer's own message
        show = getattr(exc, "show", None)  # typer's click exceptions print themselves
        if show is not None:
            show()
        else:
            error(exc.message)
        return INVALID_INPUT
    except Abort:
        return report_error(KeyboardInterrupt())
    except (Exception, KeyboardInterrupt) as exc:  # one line; the traceback with --verbose
        return report_error(exc, verbose=_state["verbose"])
    finally:  # `--registry` holds for this command only (main may run again in one process)
        set_registry_url(None)
        set_starts_project(None)

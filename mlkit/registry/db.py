"""Engines, the schema revision check and ``upgrade``.

Opening a registry costs one query (``SELECT version_num FROM alembic_version``) compared with
``HEAD_REVISION``; Alembic is imported only to create a new schema or to upgrade an old one.

SQLite connections get WAL mode (synchronous NORMAL), a 30 s busy timeout and foreign keys. The
driver's own transaction handling is switched off so that SQLAlchemy emits ``BEGIN`` itself:
writes use ``BEGIN IMMEDIATE`` (``engine.execution_options(sqlite_begin="IMMEDIATE")``), which
takes the write lock up front and serialises writers instead of failing them when two
read-then-write transactions meet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.errors import RegistryError

if TYPE_CHECKING:
    from sqlalchemy import Engine

# SQLAlchemy is imported inside the functions: the lean read path (``listing``) needs only these
# constants, and ``import sqlalchemy`` costs a noticeable part of a command's start-up.

# The newest migration in migrations/versions/, and every one before it (oldest first).
HEAD_REVISION = "0009"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
UPGRADE_HINT = "run `mlkit registry upgrade` to migrate it (back up registry.db first)"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid URL>"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def no_registry(url: str) -> RegistryError:
    """There is no registry at ``url`` and this command may not create one."""
    from mlkit.config import outside_any_project

    path = sqlite_file(url)
    if outside_any_project(url):
        return RegistryError(
            f"no mlkit project in {Path.cwd()} nor in a folder above it (no registry.db, "
            "warehouse.duckdb or mlkit.toml)",
            hint="run the command in a project's folder or set MLKIT_HOME; `mlkit data load` or "
            "`mlkit train` starts a project here",
        )
    where = str(path) if path is not None else describe_url(url)
    return RegistryError(
        f"no registry at {where}",
        hint=f"check the name given with --registry or MLKIT_REGISTRY_URL; to create a registry "
        f"there run `mlkit --registry {describe_url(url)} registry upgrade`",
    )


def one_line(exc: BaseException) -> str:
    """The driver's message without the SQL, parameters or background link SQLAlchemy appends."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def create_registry_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite file URLs get their parent directory created."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as exc:
        raise RegistryError(
            f"invalid registry URL {url!r}",
            hint="use an SQLAlchemy URL such as sqlite:///registry.db or postgresql://host/db",
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL's recommended level: a commit survives the process being killed; a power cut may
        # lose the last commits but never corrupts the file. FULL would add an fsync per commit.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """The same engine, starting its transactions with the write lock held on SQLite."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def stored_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database; None when it has no mlkit schema."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as first:
        try:
            has_table = inspect(engine).has_table("alembic_version")
        except SQLAlchemyError as exc:
            raise RegistryError(
                f"cannot open the registry at {describe_url(str(engine.url))}: {one_line(exc)}",
                hint="check MLKIT_REGISTRY_URL and that the database is reachable",
            ) from exc
        if has_table:
            raise RegistryError(
                f"cannot read the registry schema revision: {one_line(first)}"
            ) from first
        return None


def check_revision(revision: str | None, url: str) -> None:
    """Refuse a schema that is not exactly the one this code was written for."""
    if revision == HEAD_REVISION:
        return
    where = describe_url(url)
    if revision in KNOWN_REVISIONS:
        raise RegistryError(
            f"the registry at {where} has schema revision {revision}, this mlkit needs "
            f"{HEAD_REVISION}",
            hint=UPGRADE_HINT,
        )
    raise RegistryError(
        f"the registry at {where} has unknown schema revision {revision!r} "
        f"(this mlkit knows up to {HEAD_REVISION})",
        hint="it was probably written by a newer mlkit; upgrade mlkit",
    )


def print_upgrade(old: str, new: str, where: str) -> None:
    """The default message of an automatic upgrade: one line on stderr."""
    print(f"Upgrading the registry at {where} from schema {old} to {new}.", file=sys.stderr)


def ensure_schema(
    engine: Engine,
    on_upgrade: Callable[[str, str, str], None] | None = print_upgrade,
    *,
    create: bool = True,
) -> None:
    """Create the schema in an empty database (only with ``create``; ``no_registry`` otherwise),
    or check that an existing one is current.

    A SQLite registry at an older known revision is upgraded on the spot (``on_upgrade`` tells
    the user; None refuses instead). Other databases are shared by a team, so their upgrade is
    an explicit ``mlkit registry upgrade``.
    """
    url = str(engine.url)
    revision = stored_revision(engine)
    if (
        on_upgrade is not None
        and revision in KNOWN_REVISIONS
        and revision != HEAD_REVISION
        and engine.dialect.name == "sqlite"
    ):
        on_upgrade(revision, HEAD_REVISION, describe_url(url))
        _upgrade_engine(engine, url)
        revision = stored_revision(engine)
    if revision is None and not create:
        raise no_registry(url)
    if revision is None:
        try:
            run_upgrade(engine)
        except Exception as exc:
            # Another process may have created it at the same moment; that is fine.
            try:
                revision = stored_revision(engine)
            except RegistryError:
                revision = None
            if revision != HEAD_REVISION:
                raise RegistryError(
                    f"cannot create the registry schema at {describe_url(url)}: {one_line(exc)}"
                ) from exc
            return
        revision = stored_revision(engine)
    check_revision(revision, url)


def run_upgrade(engine: Engine) -> None:
    """Alembic ``upgrade head`` on ``engine``, configured in code (no alembic.ini)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with writer(engine).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def upgrade(url: str) -> str:
    """Bring the registry at ``url`` to the newest schema (creating it if empty).

    Returns the revision the database is at afterwards. This is what ``mlkit registry upgrade``
    calls.
    """
    engine = create_registry_engine(url)
    try:
        revision = stored_revision(engine)
        if revision is not None and revision not in KNOWN_REVISIONS:
            check_revision(revision, url)
        _upgrade_engine(engine, url)
        revision = stored_revision(engine)
        check_revision(revision, url)
        return HEAD_REVISION
    finally:
        engine.dispose()


def _upgrade_engine(engine: Engine, url: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        run_upgrade(engine)
    except SQLAlchemyError as exc:
        raise RegistryError(
            f"upgrading the registry at {describe_url(url)} failed: {one_line(exc)}"
        ) from exc

"""Opening a store's database: URLs as users write them, SQLite tuning, error translation.

``postgresql://user@host/db`` works without naming a driver (psycopg 3 is used); a SQLite
file's directory is created on first use, and aimops switches the file to WAL mode when it
creates or upgrades the schema (the mode lives in the file; opening a store never writes it).

A SQLite store this process cannot write (a read-only file, a read-only folder where SQLite
cannot create its ``-wal`` and ``-shm`` files, a read-only mount) is opened read-only: it can
be read, and a write is refused with an error that says so.

Example:
    >>> normalize_url("postgresql://postgres@127.0.0.1:5432/aim")
    'postgresql+psycopg://postgres@127.0.0.1:5432/aim'
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from aimops import validation
from aimops.errors import (
    AimopsError,
    ConcurrentUpdateError,
    ConfigurationError,
    InvalidInputError,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}
#: The drivers aimops connects with (an async or another sync driver is refused by name).
_DRIVERS = {"postgresql+psycopg", "sqlite", "sqlite+pysqlite"}
#: PostgreSQL aborted the transaction because of another writer; running it again may work.
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
#: The server is there but a statement gave up: lock_timeout, statement_timeout, cancel.
_GAVE_UP_SQLSTATES = {"55P03", "57014"}  # lock_not_available, query_canceled
#: PostgreSQL refused a write: a read-only transaction or a hot standby.
_READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction


def parse_url(url: str) -> URL:
    """Parse a store URL, mapping bare ``postgresql://`` onto the psycopg 3 driver.

    A password with an unencoded ``@`` is refused: a parser would read its end as the host,
    and the driver's error would then print that part of it. A URL that is not text is
    refused too (:class:`~aimops.errors.InvalidInputError`), without showing it.
    """
    if not isinstance(url, str):
        raise InvalidInputError(f"a store URL must be text, not {type(url).__name__}")
    position = validation.unstorable_position(url)
    if position is not None:  # not shown: the URL may hold a password
        raise InvalidInputError(
            f"a store URL must be text that UTF-8 can encode; this one holds a lone surrogate "
            f"at position {position}"
        )
    if _password_has_at(url.strip()):
        raise ConfigurationError(
            f"the password in store URL {redact(url)} holds an unencoded '@': write it as %40 "
            "(or pass the password through the connection's password field)"
        )
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigurationError(f"cannot parse store URL {redact(url)}: {exc}") from exc
    if parsed.drivername in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"unsupported store URL {redact(parsed)}: use sqlite:///path or postgresql://..."
        )
    if parsed.drivername not in _DRIVERS:
        raise ConfigurationError(
            f"store URL {redact(parsed)} names the driver {parsed.get_driver_name()!r}; aimops "
            "connects through psycopg 3 and Python's sqlite3: write postgresql://... or "
            "sqlite:///path (the driver comes with aimops[postgres])"
        )
    return parsed


def normalize_url(url: str) -> str:
    """The URL aimops connects with, password kept (see :func:`redact` for display)."""
    return parse_url(url).render_as_string(hide_password=False)


#: Query parameters whose values are credentials (``?password=``, ``sslpassword``, tokens).
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|credential|auth", re.IGNORECASE)
REDACTED = "redacted"


def redact(url: URL | str) -> str:
    """The URL with every credential hidden, for messages and logs.

    The password however it is given: in the user part (also with an unencoded ``@`` or
    ``/`` in it, which a URL parser would read as part of the host) or as a query parameter
    (``?password=``, ``sslpassword``, ``token``...).

    Example:
        >>> redact("postgresql+psycopg://ml:p@ss/word@db:5432/aim?sslpassword=x&sslmode=require")
        'postgresql+psycopg://ml:***@db:5432/aim?sslmode=require&sslpassword=redacted'
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(_hide_user_part(url.strip()))
        query = {
            key: REDACTED if secret_parameter(key) else value for key, value in parsed.query.items()
        }
        return parsed.set(query=query).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return "<unparseable store URL>"


def store_option(label: str) -> str:
    """The ``--store`` option a suggested command gives for a redacted URL: the URL itself, or,
    when credentials were hidden in it, the environment variable that holds it (a command with
    ``***`` in the password's place would not run).

    Example:
        >>> store_option("sqlite:////data/aim.db")
        "--store 'sqlite:////data/aim.db'"
        >>> store_option("postgresql+psycopg://ml:***@db/aim")
        '--store "$AIMOPS_STORE_URL" (with AIMOPS_STORE_URL set to the URL and its password)'
    """
    if ":***@" in label or f"={REDACTED}" in label:
        return '--store "$AIMOPS_STORE_URL" (with AIMOPS_STORE_URL set to the URL and its password)'
    return f"--store '{label}'"


def secret_parameter(name: str) -> bool:
    """True for a query parameter whose value is a credential."""
    return _SECRET_PARAMETER.search(name) is not None


def _split_user_part(text: str) -> tuple[str, str, str] | None:
    """``(scheme, user part, rest from its last @)`` of a URL with a user part, else None."""
    scheme, separator, rest = text.partition("://")
    if not separator or rest.startswith("/"):
        return None  # no user part (a SQLite path)
    at = rest.split("?", 1)[0].rfind("@")
    return (scheme, rest[:at], rest[at:]) if at >= 0 else None


def _password_has_at(text: str) -> bool:
    split = _split_user_part(text)
    return split is not None and "@" in split[1].partition(":")[2]


def _hide_user_part(text: str) -> str:
    """``scheme://user:***@host...``: the password up to the LAST ``@`` before the query."""
    split = _split_user_part(text)
    if split is None or ":" not in split[1]:
        return text
    scheme, user_part, rest = split
    return f"{scheme}://{user_part.partition(':')[0]}:***{rest}"


def open_engine(url: str, *, timeout: float | None = None) -> Engine:
    """Create an engine for ``url`` (no connection is made yet).

    ``timeout`` (seconds) bounds every wait: connecting, a lock held by another writer, and on
    PostgreSQL each statement. Without it, connecting waits 10 s and locks 30 s.
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            busy_ms = int(timeout * 1000) if timeout is not None else SQLITE_BUSY_TIMEOUT_MS
            return _sqlite_engine(parsed, busy_ms)
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = max(1, math.ceil(timeout)) if timeout else 10
        if timeout is not None:
            limit_ms = int(timeout * 1000)
            connect_args["options"] = f"-c statement_timeout={limit_ms} -c lock_timeout={limit_ms}"
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
        )
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigurationError(
            f"no database driver for {redact(parsed)}: install aimops[postgres]"
        ) from exc


def sqlite_file(parsed: URL) -> Path | None:
    """The file a SQLite URL names; None for in-memory and ``file:`` URI databases."""
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def sqlite_read_only_reason(path: Path) -> str | None:
    """Why this process cannot write the SQLite store at ``path``, or None when it can.

    SQLite writes the file and, beside it, a ``-wal`` and ``-shm`` file (or a ``-journal``): a
    read-only folder makes the store read-only too. Permissions are checked as the process's
    effective user, the one SQLite acts as.
    """
    if path.exists() and not _writable(path):
        return f"the file {path} is read-only"
    if not _writable(path.parent):
        return f"its folder {path.parent} is read-only"
    return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def read_only_reason(engine: Engine) -> str | None:
    """Why writes through ``engine`` are impossible (a SQLite store opened read-only), or None."""
    if engine.dialect.name != "sqlite" or engine.url.query.get("mode") != "ro":
        return None
    database = engine.url.database or ""
    path = Path(unquote(database.removeprefix("file:"))) if database.startswith("file:/") else None
    found = sqlite_read_only_reason(path) if path is not None else None
    return found or "its URL opens it read-only (mode=ro)"


def read_only_error(label: str, reason: str) -> ConfigurationError:
    """The error for a write into a read-only store: what it is, why, and what to do."""
    return ConfigurationError(
        f"the AIM store at {label} is read-only ({reason}): it can be read, but nothing can be "
        "written to it; make the file and its folder writable for this user, or write to "
        "another store"
    )


def _sqlite_engine(parsed: URL, busy_ms: int) -> Engine:
    path = sqlite_file(parsed)
    read_only = None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create {path.parent} for the store: {exc}"
            ) from exc
        read_only = sqlite_read_only_reason(path)
        if read_only is not None and not path.exists():
            raise ConfigurationError(f"cannot create the AIM store {path}: {read_only}")
        parsed = (
            parsed.set(database=str(path))
            if read_only is None
            else parsed.set(database=f"file:{quote(str(path))}", query=_read_only_query(path))
        )
    engine = create_engine(parsed, connect_args={"timeout": busy_ms / 1000})

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # A 64 MiB page cache keeps the field indexes' hot pages in memory, and checkpointing
        # the WAL every ~80 MiB instead of 4 MiB writes each hot page back once, not many times.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.info.get("aimops_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _read_only_query(path: Path) -> dict[str, str]:
    """``mode=ro``, and ``immutable=1`` when SQLite could not read the file otherwise.

    In a folder it cannot write, SQLite reads a WAL store through its ``-shm`` file, which it
    cannot create there. When there is no ``-wal`` file (the store was closed cleanly: every
    write is in the file itself), nobody can be writing it either, since a writer must create
    that file in this folder: reading it as immutable (no locks, no ``-shm``) is then exact.
    With a ``-wal`` file present, immutable would miss the writes in it, so SQLite reads both.
    """
    query = {"mode": "ro", "uri": "true"}
    if not _writable(path.parent) and not path.with_name(path.name + "-wal").exists():
        query["immutable"] = "1"
    return query


def use_write_ahead_log(engine: Engine, label: str) -> None:
    """Switch a SQLite store to WAL mode (readers never block the writer); a no-op elsewhere.

    The mode is kept in the file, so this runs when aimops creates or upgrades a schema, never
    when a store is opened: opening one for reading must not change it. It runs outside a
    transaction, which SQLite requires for the switch.
    """
    if engine.dialect.name != "sqlite" or read_only_reason(engine) is not None:
        return
    with translate_errors(label):
        raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise StoreError(f"the AIM store at {label} failed: {_first_line(exc)}") from exc
    finally:
        raw.close()


@contextlib.contextmanager
def translate_errors(label: str) -> Iterator[None]:
    """Turn driver errors into the package's own, naming the store (password hidden)."""
    try:
        yield
    except OperationalError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            raise ConcurrentUpdateError(
                f"the AIM store at {label} aborted the write because another writer got in "
                f"the way ({_first_line(exc.orig)}); retry it"
            ) from exc
        if sqlstate == _READ_ONLY_SQLSTATE or _sqlite_error(exc).startswith("SQLITE_READONLY"):
            raise read_only_error(label, _first_line(exc.orig)) from exc
        if sqlstate in _GAVE_UP_SQLSTATES or _is_sqlite_busy(exc):
            raise StoreBusyError(
                f"the AIM store at {label} failed: {_first_line(exc.orig)}"
            ) from exc
        if exc.connection_invalidated or _is_connect_failure(exc):
            raise StoreUnavailableError(
                f"cannot reach the AIM store at {label}: {_first_line(exc.orig)}"
            ) from exc
        raise StoreError(f"the AIM store at {label} failed: {_first_line(exc.orig)}") from exc
    except DataError as exc:  # a value this backend cannot hold: it never will
        raise InvalidInputError(
            f"the AIM store at {label} cannot hold a value: {_first_line(exc.orig)}"
        ) from exc
    except DBAPIError as exc:
        raise _database_error(exc, label) from exc


def _database_error(exc: DBAPIError, label: str) -> AimopsError:
    """A driver error that is neither operational nor about a value."""
    if getattr(exc.orig, "sqlstate", None) == _READ_ONLY_SQLSTATE:
        return read_only_error(label, _first_line(exc.orig))
    if _sqlite_error(exc) == "SQLITE_NOTADB":
        return ConfigurationError(
            f"{label} is not an AIM store: the file is not a SQLite database (or is damaged "
            "beyond reading); aimops leaves it as it is: use another path for the store, or "
            "move the file away and create the store with aimops init"
        )
    return StoreError(f"the AIM store at {label} failed: {_first_line(exc.orig)}")


def _sqlite_error(exc: DBAPIError) -> str:
    """SQLite's name for the error (``SQLITE_READONLY_DIRECTORY``...), else ''."""
    return str(getattr(exc.orig, "sqlite_errorname", ""))


def _is_sqlite_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _is_connect_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    markers = ("unable to open", "connection", "could not connect", "does not exist", "timeout")
    return any(marker in text for marker in markers)


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""

"""Opening a store's database: URLs as users write them, SQLite tuning, error translation.

``postgresql://user@host/db`` works without naming a driver (psycopg 3 is used); a SQLite
file's directory is created on first use and the database runs in WAL mode.

Example:
    >>> normalize_url("postgresql://postgres@127.0.0.1:5432/aim")
    'postgresql+psycopg://postgres@127.0.0.1:5432/aim'
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from aimops.errors import (
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


def parse_url(url: str) -> URL:
    """Parse a store URL, mapping bare ``postgresql://`` onto the psycopg 3 driver.

    A password with an unencoded ``@`` is refused: a parser would read its end as the host,
    and the driver's error would then print that part of it.
    """
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


def _sqlite_engine(parsed: URL, busy_ms: int) -> Engine:
    path = sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create {path.parent} for the store: {exc}"
            ) from exc
        parsed = parsed.set(database=str(path))
    engine = create_engine(parsed, connect_args={"timeout": busy_ms / 1000})

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
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
        raise StoreError(f"the AIM store at {label} failed: {_first_line(exc.orig)}") from exc


def _is_sqlite_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _is_connect_failure(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    markers = ("unable to open", "connection", "could not connect", "does not exist", "timeout")
    return any(marker in text for marker in markers)


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""

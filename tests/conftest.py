"""Shared fixtures: a store on each backend (SQLite file, real PostgreSQL), and Airflow's
environment: a throwaway AIRFLOW_HOME set when this file is imported, before any test (of the
hooks, the operators, the capture) imports Airflow, so no test ever touches ``~/airflow``.

PostgreSQL comes from ``AIMOPS_TEST_POSTGRES_URL`` (``make test`` finds or starts a server and
sets it). Each test session creates its own uniquely named database and drops it at the end.
Without a server the PostgreSQL tests are skipped, loudly; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aimops.metadata import AimStore

_HOME = Path(tempfile.mkdtemp(prefix="aimops-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(_HOME / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__OPENLINEAGE__DISABLED": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(_HOME / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def aimops_command() -> Callable[..., str]:
    """Runs the installed ``aimops`` command as a user would, in AIMOPS_HOME ``home`` (and
    no AIMOPS_STORE_URL); its standard output, after asserting it exited 0."""

    def run(*args: str, home: Path) -> str:
        env = {**os.environ, "AIMOPS_HOME": str(home)}
        env.pop("AIMOPS_STORE_URL", None)
        result = subprocess.run(
            [str(Path(sys.executable).with_name("aimops")), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test server (``prefect_test_harness``) for the whole session (~16 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


TABLES = "aim_points, aim_edges, aim_aspect_fields, aim_aspects, aim_entities"
_postgres_problem: list[str] = []


def _admin_url() -> str:
    return os.environ.get("AIMOPS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL).strip()


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def _fresh_database(prefix: str) -> Iterator[str]:
    """A new database on the test server (its URL), dropped afterwards."""
    admin = _admin_url()
    if not admin:
        _unavailable("AIMOPS_TEST_POSTGRES_URL is empty (no server was found or started)")
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(_psycopg_url(admin), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        _unavailable(f"cannot create a test database on {admin}: {exc}")
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_psycopg_url(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server, dropped after the session."""
    with _fresh_database("aimops_test") as url:
        yield url


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of the test's own on the test server, as SQLAlchemy's psycopg 3 URL (the
    one Airflow's metadata DB takes), dropped after the test."""
    with _fresh_database("aimops_airflow") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    _postgres_problem.append(reason)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_problem:
        terminalreporter.write_sep(
            "!", "PostgreSQL tests were SKIPPED: " + _postgres_problem[0], red=True, bold=True
        )


@pytest.fixture(scope="session")
def postgres_store(postgres_url: str) -> Iterator[AimStore]:
    """One migrated PostgreSQL store for the session."""
    store = AimStore.open(postgres_url, create=True, actor="tester")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AimStore]:
    """An empty store on each backend."""
    if request.param == "sqlite":
        sqlite_store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}", actor="tester")
        yield sqlite_store
        sqlite_store.close()
        return
    pg_store: AimStore = request.getfixturevalue("postgres_store")
    with pg_store.engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield pg_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store URL in the test's own directory (not created yet)."""
    return f"sqlite:///{tmp_path / 'aim.db'}"


MLFLOW_STORE_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never touch the user's ~/.aimops or their AIMOPS_STORE_URL; and MLflow's setters, which
    export the URIs they are given into os.environ, leak nothing into the next test, nor does
    an Airflow connection the hooks looked up (a process keeps those answers)."""
    from aimops.hooks.connections import forget_connections

    monkeypatch.setenv("AIMOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIMOPS_STORE_URL", raising=False)
    before = {name: os.environ.get(name) for name in MLFLOW_STORE_VARIABLES}
    forget_connections()
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

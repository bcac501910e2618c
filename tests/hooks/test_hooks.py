"""The Airflow hooks and the provider, against real Airflow (connections from AIRFLOW_CONN_*).

``conftest.py`` here points AIRFLOW_HOME at a throwaway directory before Airflow is imported;
the root ``conftest.py`` gives every test its own AIMOPS_HOME and no AIMOPS_STORE_URL.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aimops
from aimops.errors import ConfigurationError
from aimops.hooks.aim import AimHook
from aimops.hooks.connections import find_connection, forget_connections
from aimops.hooks.mlflow import MlflowHook
from aimops.metadata.store import AimStore
from aimops.operators.provider import get_provider_info

PASSWORD = "s3cr3t-Pa55w0rd"
MLFLOW_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict[str, Any] | str) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No connection or MLflow setting from the developer's shell leaks into a test, and no
    connection a test defined outlives it (a process keeps what it looked up)."""
    for name in ("AIRFLOW_CONN_AIMOPS_DEFAULT", "AIRFLOW_CONN_MLFLOW_DEFAULT", *MLFLOW_ENV):
        monkeypatch.setenv(name, "")  # recorded, so whatever a hook exports is undone
        monkeypatch.delenv(name)
    forget_connections()
    yield
    forget_connections()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The connection ids asked of Airflow, in order."""
    from airflow.sdk import BaseHook

    asked: list[str] = []
    ask_airflow = BaseHook.get_connection

    def counted(cls: type, conn_id: str) -> Any:
        asked.append(conn_id)
        return ask_airflow(conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counted))
    return asked


# -- AimHook: where the store is -------------------------------------------------------------


def test_importing_the_hooks_package_does_not_import_airflow() -> None:
    code = "import sys, aimops.hooks; print('airflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_store_url_extra_in_json_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://aim:{PASSWORD}@db.example.com:5432/aim"
    _connection(monkeypatch, "aimops_default", {"conn_type": "aimops", "extra": {"store_url": url}})
    monkeypatch.setenv("AIMOPS_STORE_URL", "sqlite:////elsewhere/aim.db")

    assert AimHook().get_store_url() == url


def test_store_url_built_from_uri_connection_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(
        monkeypatch, "aim_prod", "aimops://aim:p%40ss@db.example.com:5432/aim?sslmode=require"
    )

    url = AimHook("aim_prod").get_store_url()

    assert url == "postgresql://aim:p%40ss@db.example.com:5432/aim?sslmode=require"


def test_host_with_a_scheme_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "aimops", "host": "postgresql+psycopg://db", "schema": "aim"}
    _connection(monkeypatch, "aimops_default", conn)

    assert AimHook().get_store_url() == "postgresql+psycopg://db/aim"


def test_without_connection_aimops_store_url_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIMOPS_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")

    assert AimHook().get_store_url() == f"sqlite:///{tmp_path / 'env.db'}"


def test_without_connection_or_url_the_home_store_is_used(tmp_path: Path) -> None:
    # the root conftest sets AIMOPS_HOME to tmp_path/home and removes AIMOPS_STORE_URL
    assert AimHook().get_store_url() == f"sqlite:///{tmp_path / 'home' / 'aim.db'}"


def test_a_connection_id_named_explicitly_must_exist() -> None:
    with pytest.raises(ConfigurationError, match="no Airflow connection 'aim_missing'"):
        AimHook("aim_missing").get_store_url()


# -- one lookup per process, quietly ---------------------------------------------------------


def test_each_optional_connection_is_looked_up_once_per_process(
    lookups: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for _ in range(3):  # every capture event, task, operator and extra link makes its hooks
        assert AimHook().get_store_url() == f"sqlite:///{tmp_path / 'home' / 'aim.db'}"
        assert MlflowHook().get_ui_url() is None
    assert lookups == ["aimops_default", "mlflow_default"]  # absent: remembered as absent
    # without a connection the settings are still read at each use
    monkeypatch.setenv("AIMOPS_STORE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")
    assert AimHook().get_store_url() == f"sqlite:///{tmp_path / 'other.db'}"
    assert MlflowHook().get_ui_url() == "https://mlflow.example.com"
    assert lookups == ["aimops_default", "mlflow_default"]


def test_a_found_connection_is_kept_for_the_process(
    lookups: list[str], monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    conn = {"conn_type": "aimops", "extra": {"store_url": sqlite_url}}
    _connection(monkeypatch, "aimops_default", conn)
    assert [AimHook().get_store_url() for _ in range(3)] == [sqlite_url] * 3
    assert lookups == ["aimops_default"]


def test_a_missing_connection_named_explicitly_stays_an_error(lookups: list[str]) -> None:
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="no Airflow connection 'aim_missing'"):
            AimHook("aim_missing").get_store_url()
        with pytest.raises(ConfigurationError, match="no Airflow connection 'mlflow_missing'"):
            MlflowHook("mlflow_missing").get_tracking_uri()
    assert lookups == ["aim_missing", "mlflow_missing"]


def test_an_absent_default_connection_is_looked_up_quietly(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    AimHook().get_store_url()
    MlflowHook().get_tracking_uri()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == []
    told = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in told if "_default" in m or "not found" in m.lower()]
    captured = capsys.readouterr()
    assert "_default" not in captured.out + captured.err


def test_a_forked_process_looks_the_connection_up_for_itself(lookups: list[str]) -> None:
    assert find_connection("aimops_default") is None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's answer may be old, it asks once for itself
        find_connection("aimops_default")
        find_connection("aimops_default")
        os.write(write, str(len(lookups)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"2"  # the parent's lookup and the child's own
    assert find_connection("aimops_default") is None and len(lookups) == 1


def test_airflow_builds_the_hook_from_the_connection_type(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    from airflow.sdk import BaseHook

    _connection(
        monkeypatch, "aim_typed", {"conn_type": "aimops", "extra": {"store_url": sqlite_url}}
    )

    hook = BaseHook.get_hook("aim_typed")

    assert isinstance(hook, AimHook)
    assert hook.get_store_url() == sqlite_url


# -- AimHook: using and testing the store ----------------------------------------------------


def test_get_store_opens_one_store_for_the_hook(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    _connection(
        monkeypatch, "aimops_default", {"conn_type": "aimops", "extra": {"store_url": sqlite_url}}
    )
    hook = AimHook(actor="airflow")
    try:
        store = hook.get_store()
        aimops.record_run(store, orchestrator="airflow", pipeline="train", run_id="r1")
        assert hook.get_store() is store
        assert store.actor == "airflow"
    finally:
        hook.close()
    with AimStore.open(sqlite_url) as reopened:
        assert reopened.count("run") == 1


def test_test_connection_succeeds_on_a_real_store(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    with AimStore.open(sqlite_url) as store:
        aimops.record_run(store, orchestrator="airflow", pipeline="train", run_id="r1")
    _connection(
        monkeypatch, "aimops_default", {"conn_type": "aimops", "extra": {"store_url": sqlite_url}}
    )

    ok, message = AimHook().test_connection()

    assert ok, message
    assert "1 runs" in message


def test_test_connection_does_not_create_a_missing_store(tmp_path: Path) -> None:
    ok, message = AimHook().test_connection()

    assert not ok
    assert "aimops init" in message
    assert not (tmp_path / "home" / "aim.db").exists()


def test_unreachable_postgres_fails_without_showing_the_password(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    conn = {
        "conn_type": "aimops",
        "host": "127.0.0.1",
        "port": port,
        "schema": "aim",
        "login": "aim",
        "password": PASSWORD,
    }
    _connection(monkeypatch, "aimops_default", conn)

    ok, message = AimHook().test_connection()

    assert not ok
    assert f"127.0.0.1:{port}" in message
    assert PASSWORD not in message
    assert PASSWORD not in caplog.text
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err


def test_store_url_passwords_are_masked_in_airflow_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk._shared.secrets_masker import redact as mask

    url = f"postgresql://aim:{PASSWORD}@db.example.com/aim"
    _connection(monkeypatch, "aimops_default", {"conn_type": "aimops", "extra": {"store_url": url}})

    AimHook().get_store_url()

    assert PASSWORD not in str(mask(f"connecting to {url}"))


def test_form_hides_nothing_useful_and_offers_a_store_url_field() -> None:
    behaviour = AimHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["schema"] == "Database"
    assert "store_url" in behaviour["placeholders"]
    assert "host" not in behaviour["hidden_fields"]


# -- MlflowHook ------------------------------------------------------------------------------


def test_mlflow_connection_with_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "mlflow", "host": "mlflow.example.com", "port": 5000}
    _connection(monkeypatch, "mlflow_default", conn)
    hook = MlflowHook()

    assert hook.get_tracking_uri() == "http://mlflow.example.com:5000"
    assert hook.get_registry_uri() == "http://mlflow.example.com:5000"
    assert hook.get_ui_url() == "http://mlflow.example.com:5000"
    assert hook.run_url("3", "abc") == "http://mlflow.example.com:5000/#/experiments/3/runs/abc"


def test_mlflow_connection_extras(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    extra = {
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "registry_uri": f"sqlite:///{tmp_path / 'registry.db'}",
        "ui_url": "https://mlflow.example.com/",
    }
    _connection(monkeypatch, "mlflow_default", {"conn_type": "mlflow", "extra": extra})
    hook = MlflowHook()

    assert hook.get_tracking_uri() == extra["tracking_uri"]
    assert hook.get_registry_uri() == extra["registry_uri"]
    assert hook.run_url("1", "r") == "https://mlflow.example.com/#/experiments/1/runs/r"


def test_mlflow_without_connection_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://tracking.example.com")
    hook = MlflowHook()

    assert hook.get_tracking_uri() == "https://tracking.example.com"
    assert hook.get_registry_uri() == "https://tracking.example.com"
    assert hook.run_url("1", "r") == "https://tracking.example.com/#/experiments/1/runs/r"


def test_mlflow_store_without_ui_has_no_run_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    assert MlflowHook().get_ui_url() is None
    assert MlflowHook().run_url("1", "r") is None


@pytest.fixture
def mlflow_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore MLflow's process-wide URIs after a test that configures them."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    yield


@pytest.mark.usefixtures("mlflow_state")
def test_mlflow_client_creates_an_experiment_in_a_real_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import mlflow

    caplog.set_level(logging.DEBUG)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    conn = {
        "conn_type": "mlflow",
        "login": "airflow",
        "password": PASSWORD,
        "extra": {"tracking_uri": tracking},
    }
    _connection(monkeypatch, "mlflow_default", conn)
    hook = MlflowHook()

    client = hook.get_client()
    experiment_id = client.create_experiment(
        "churn", artifact_location=(tmp_path / "artifacts").as_uri()
    )

    assert client.get_experiment_by_name("churn").experiment_id == experiment_id
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "airflow"
    assert hook.test_connection() == (True, f"MLflow at {tracking} is reachable")
    hook.configure()
    assert mlflow.get_tracking_uri() == tracking
    assert mlflow.get_registry_uri() == tracking
    assert PASSWORD not in caplog.text


def test_mlflow_test_connection_fails_fast_and_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, mlflow_state: None
) -> None:
    port = _free_port()
    conn = f"mlflow://airflow:{PASSWORD}@127.0.0.1:{port}"
    _connection(monkeypatch, "mlflow_default", conn)

    ok, message = MlflowHook().test_connection()

    assert not ok
    assert f"http://127.0.0.1:{port}" in message
    assert PASSWORD not in message


# -- the provider ----------------------------------------------------------------------------


def test_provider_info_is_valid_for_airflow() -> None:
    import airflow
    import jsonschema

    schema_path = Path(airflow.__file__).with_name("provider_info.schema.json")
    schema = json.loads(schema_path.read_text())
    info = get_provider_info()

    jsonschema.validate(info, schema)
    assert info["versions"] == [aimops.__version__]
    assert {c["connection-type"] for c in info["connection-types"]} == {"aimops", "mlflow"}


def test_airflow_discovers_the_provider_and_its_connection_forms() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()

    assert "aimops" in manager.providers
    assert manager.providers["aimops"].version == aimops.__version__
    assert manager.field_behaviours["mlflow"]["hidden_fields"] == ["schema"]
    widgets = manager.connection_form_widgets
    assert widgets["extra__aimops__store_url"].field["schema"]["title"] == "Store URL"
    assert "extra__mlflow__tracking_uri" in widgets


def test_a_store_links_cannot_open_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from aimops.hooks import aim

    monkeypatch.setenv("AIMOPS_STORE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    aim.forget_lookup_store()
    with caplog.at_level(logging.WARNING, logger="aimops.hooks"):
        assert aim.lookup_store() is None
        monkeypatch.setattr(aim, "_retry_open_at", 0.5)  # the retry is due: it fails again
        assert aim.lookup_store() is None
    aim.forget_lookup_store()
    said = [r.getMessage() for r in caplog.records if r.name == "aimops.hooks"]
    assert len(said) == 1 and "cannot open the AIM store for links and pages" in said[0]

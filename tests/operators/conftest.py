"""Real Airflow for the operator and capture tests: its metadata DB, created once per session.

The throwaway AIRFLOW_HOME is set by ``tests/conftest.py`` when it is imported, before any test
imports Airflow, so no test ever touches ``~/airflow``. ``run_dag`` writes a DAG defined in a test
into Airflow's DB (``dag.test()`` only runs serialized DAGs) and runs it in-process, where the
aimops listener (loaded from its entry point, as for any user) captures it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(os.environ["AIRFLOW_HOME"])  # set by tests/conftest.py, before Airflow loads
GOLDEN = Path(__file__).parent / "capture" / "golden"


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Airflow's metadata DB, created once per session."""
    from airflow.utils import db

    db.initdb()
    yield _HOME


@pytest.fixture
def aim_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AIMOPS_HOME (the embedded SQLite store and the spool) for one test."""
    from aimops.operators.capture import listener

    home = tmp_path / "aimops"
    monkeypatch.setenv("AIMOPS_HOME", str(home))
    monkeypatch.delenv("AIMOPS_STORE_URL", raising=False)
    monkeypatch.delenv("AIMOPS_CAPTURE", raising=False)
    listener.reset_sink()
    yield home
    listener.reset_sink()


@pytest.fixture(scope="session")
def run_dag(airflow_db: Path) -> Callable[..., Any]:
    """Run a DAG object through ``dag.test()``; returns the finished DagRun."""

    def run(dag: Any, *, run_after: datetime | None = None, conf: dict[str, Any] | None = None):
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.collection import update_dag_parsing_results_in_db
        from airflow.serialization.serialized_objects import LazyDeserializedDAG
        from airflow.utils.session import create_session

        from aimops.operators.capture.listener import flush_capture

        with create_session() as session:
            DagBundlesManager().sync_bundles_to_db(session=session)
            session.commit()
            update_dag_parsing_results_in_db(
                "dags-folder",
                None,
                [LazyDeserializedDAG.from_dag(dag)],
                {},
                None,
                set(),
                session,
            )
        kwargs: dict[str, Any] = {"run_conf": conf}
        if run_after is not None:
            kwargs.update(run_after=run_after, logical_date=run_after)
        dag_run = dag.test(**kwargs)
        # The run's end is recorded by the listener's background worker: let it finish.
        assert flush_capture(30.0), "the capture worker did not finish the run's end in 30 s"
        return dag_run

    return run


def captured(store: Any, run: str) -> dict[str, Any]:
    """What the store holds of one run, as a user would read it: run, pipeline, steps, I/O."""
    run_info = store.get_aspect(run, "runInfo").value
    pipeline = run_info["pipeline"]
    steps = sorted(e.urn for e in store.related(run, "partOf", incoming=True))
    document: dict[str, Any] = {
        "pipeline": {
            "urn": pipeline,
            "pipelineInfo": store.get_aspect(pipeline, "pipelineInfo").value,
            "pipelineTasks": _value(store.get_aspect(pipeline, "pipelineTasks")),
            "project": [e.urn for e in store.related(pipeline, "partOf")],
        },
        "run": {"urn": run, "runInfo": run_info},
        "steps": {},
        "entities": {},
    }
    mentioned: set[str] = set()
    for step in steps:
        consumed = sorted(e.urn for e in store.related(step, "consumed"))
        produced = sorted(e.urn for e in store.related(step, "produced"))
        made = sorted(e.urn for e in store.related(step, "producedBy", incoming=True))
        mentioned.update(consumed, produced, made)
        document["steps"][step] = {
            "stepInfo": store.get_aspect(step, "stepInfo").value,
            "attempts": (_value(store.get_aspect(step, "stepAttempts")) or {}).get("attempts", []),
            "mlflowRun": _value(store.get_aspect(step, "mlflowRun")),
            "consumed": consumed,
            "produced": produced,
            "producedBy_of": made,
        }
    for urn in sorted(mentioned):
        document["entities"][urn] = {k: v.value for k, v in store.get_aspects(urn).items()}
    return document


def _value(found: Any) -> Any:
    return found.value if found is not None else None


_VOLATILE_KEYS = {"started_at", "ended_at", "hostname", "duration_s", "run_id", "experiment_id"}


def normalise(document: Any, run_id: str) -> Any:
    """Replace what differs between runs (times, hosts, run ids, paths) with placeholders."""
    from urllib.parse import quote

    encoded = quote(run_id, safe="-._~")

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {walk(k): walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if key in _VOLATILE_KEYS and value is not None:
            return f"<{key}>"
        if isinstance(value, str):
            value = value.replace(encoded, "<run_id>").replace(run_id, "<run_id>")
            value = re.sub(r"/[^\s'\"]*/(tests/operators/capture/)", r"<repo>/\1", value)
            return value
        return value

    return walk(document)


def assert_golden(name: str, document: Any) -> None:
    """Compare with ``golden/<name>.json``; ``AIMOPS_UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if os.environ.get("AIMOPS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: write it with AIMOPS_UPDATE_GOLDEN=1")
    assert json.loads(path.read_text()) == json.loads(text), f"capture differs from {path}"


class Golden:
    """The helpers above, handed to tests as a fixture (test modules cannot import conftest)."""

    captured = staticmethod(captured)
    normalise = staticmethod(normalise)
    check = staticmethod(assert_golden)


@pytest.fixture(scope="session")
def golden() -> type[Golden]:
    return Golden


class Runs:
    """What a ``dag.test()`` run left in Airflow's database and in the AIM store."""

    @staticmethod
    def instances(dag_run: Any) -> dict[str, Any]:
        """Each task instance's state and try number, by task id."""
        from types import SimpleNamespace

        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            found = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)[0]
            return {
                ti.task_id: SimpleNamespace(state=ti.state, try_number=ti.try_number)
                for ti in found.get_task_instances(session=session)
            }

    @staticmethod
    def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
        """What the task pushed under ``key``."""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            found = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)[0]
            ti = found.get_task_instance(task_id, session=session)
            return ti.xcom_pull(task_ids=task_id, key=key, session=session)

    @staticmethod
    def attempt_errors(home: Path, dag_run: Any, task_id: str) -> list[str | None]:
        """The error of each attempt of the task, as the capture recorded it."""
        from aimops.metadata.store import AimStore
        from aimops.metadata.urns import step_urn

        with AimStore.open(f"sqlite:///{home / 'aim.db'}") as store:
            step = step_urn("airflow", dag_run.dag_id, dag_run.run_id, task_id)
            attempts = store.get_aspect(step, "stepAttempts").value["attempts"]
        return [attempt.get("error") for attempt in attempts]


@pytest.fixture(scope="session")
def runs() -> type[Runs]:
    return Runs


SignIn = Callable[..., dict[str, str]]
#: The DAG that belongs to the team TEAM in the sign-in tests, and the team's bundle.
TEAM_DAG, TEAM, TEAM_BUNDLE = "churn", "risk", "risk-dags"


@pytest.fixture
def sign_in(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SignIn]:
    """``sign_in(role, teams)``: the bearer header of such a user of the auth manager Airflow is
    configured with (its default, SimpleAuthManager), made as the API server makes it. The DAG
    ``churn`` belongs to the team ``risk`` (its bundle is the team's)."""
    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team
    from airflow.utils.session import create_session

    monkeypatch.setattr(api_app._AuthManagerState, "instance", None)  # restored afterwards
    manager = api_app.create_auth_manager()
    with create_session() as session:
        bundle = DagBundleModel(name=TEAM_BUNDLE)
        bundle.teams = [Team(name=TEAM)]
        session.add(bundle)
        session.flush()
        session.add(DagModel(dag_id=TEAM_DAG, bundle_name=TEAM_BUNDLE))

    def headers(role: str = "viewer", teams: Sequence[str] = ()) -> dict[str, str]:
        user = SimpleAuthManagerUser(username=f"a {role}", role=role, teams=list(teams))
        return {"Authorization": f"Bearer {manager.generate_jwt(user)}"}

    yield headers
    with create_session() as session:
        session.delete(session.get(DagModel, TEAM_DAG))
        session.flush()
        session.delete(session.get(DagBundleModel, TEAM_BUNDLE))
        session.delete(session.get(Team, TEAM))

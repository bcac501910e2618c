"""A client of Airflow 3's REST API v2 on the official ``apache-airflow-client``.

The typed endpoints (DAGs, DAG runs, task instances, import errors, health) go through the
generated ``airflow_client.client`` API classes and return its pydantic models. Two things it does
not cover are sent through the same client's connection pool by hand:

- the token: SimpleAuthManager issues a JWT from ``POST /auth/token`` (JSON ``{"username",
  "password"}``, answer ``{"access_token"}``), outside the API the client is generated from.
  It becomes the client's ``Configuration.access_token`` (sent as ``Authorization: Bearer``)
  and is fetched again once when the API answers 401;
- :meth:`AirflowClient.request` (any JSON endpoint, e.g. extra links or XCom entries read the
  way the UI reads them) and :meth:`AirflowClient.get_page` (a plugin's HTML page, not JSON).

Example::

    client = AirflowClient("http://127.0.0.1:8080", "admin", "secret")
    client.set_paused("train_model", False)
    run = client.trigger("train_model", {"epochs": 3})
    client.wait_for_run("train_model", run.dag_run_id, out=print)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from airflow_client.client import (
    ApiClient,
    ApiException,
    Configuration,
    DAGApi,
    DAGPatchBody,
    DAGResponse,
    DagRunApi,
    DAGRunResponse,
    HealthInfoResponse,
    ImportErrorApi,
    ImportErrorResponse,
    MonitorApi,
    TaskInstanceApi,
    TriggerDAGRunPostBody,
)

from airflow_local.errors import AirflowApiError, AirflowLocalError, AirflowUnreachableError
from airflow_local.output import Printer

T = TypeVar("T")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
#: The client's names for bearer authentication (both carry ``Configuration.access_token``).
BEARER = ["OAuth2PasswordBearer", "HTTPBearer"]


class AirflowClient:
    """Airflow's REST API v2 for one server, logged in as one SimpleAuthManager user."""

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.api_client = ApiClient(Configuration(host=self.base_url))
        self.dags = DAGApi(self.api_client)
        self.dag_runs = DagRunApi(self.api_client)
        self.task_instances = TaskInstanceApi(self.api_client)
        self.import_error_api = ImportErrorApi(self.api_client)
        self.monitor = MonitorApi(self.api_client)

    # -- plumbing ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        accept: str = "application/json",
        auth: bool = False,
    ) -> tuple[int, str]:
        """One request through the client's pool; (status, text), error statuses included."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json"
        method, url, headers, body, _ = self.api_client.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=BEARER if auth else []
        )
        try:
            response = self.api_client.call_api(
                method, url, headers, body, _request_timeout=self.timeout
            )
            data: bytes = response.read()  # type: ignore[no-untyped-call]  # generated, untyped
        except urllib3.exceptions.HTTPError as exc:
            raise AirflowUnreachableError(f"{method} {url}: {exc}") from exc
        return int(response.status), data.decode(errors="replace")

    def token(self, *, refresh: bool = False) -> str:
        """A JWT for the configured user (cached, and set as the client's access token)."""
        configuration = self.api_client.configuration
        if configuration.access_token is None or refresh:
            if not self.username or self.password is None:
                raise AirflowLocalError("no Airflow username/password to log in with")
            credentials = {"username": self.username, "password": self.password}
            status, text = self._send("POST", "/auth/token", credentials)
            if status not in (200, 201):
                raise AirflowApiError(f"POST {self.base_url}/auth/token", status, text)
            configuration.access_token = str(json.loads(text)["access_token"])
        return str(configuration.access_token)

    def _call(self, method: str, path: str, call: Callable[[], T], *, auth: bool = True) -> T:
        """``call`` the typed endpoint ``method /api/v2/path``, logged in; one new token on 401;
        the client's errors mapped to ours."""
        what = f"{method} {self.base_url}/api/v2/{path}"
        if auth:
            self.token()
        try:
            return call()
        except ApiException as exc:
            if exc.status == 401 and auth:
                self.token(refresh=True)
                return self._call(method, path, call, auth=False)
            raise AirflowApiError(what, int(exc.status or 0), str(exc.body or exc.reason)) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise AirflowUnreachableError(f"{what}: {exc}") from exc

    def get_page(self, path: str, *, auth: bool = True) -> tuple[int, str]:
        """GET a page that is not JSON (a plugin's HTML); (status, text), errors included."""
        if auth:
            self.token()
        return self._send("GET", path, accept="text/html", auth=auth)

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """Send a request to any JSON endpoint; the decoded answer (``None`` when empty)."""
        if auth:
            self.token()
        status, text = self._send(method, path, body, auth=auth)
        if status == 401 and auth:
            self.token(refresh=True)
            status, text = self._send(method, path, body, auth=auth)
        if status >= 400:
            raise AirflowApiError(f"{method} {self.base_url}{path}", status, text)
        return json.loads(text) if text.strip() else None

    # -- endpoints --------------------------------------------------------------------------

    def health(self) -> HealthInfoResponse:
        """``GET /api/v2/monitor/health`` (no login needed)."""
        return self._call(
            "GET",
            "monitor/health",
            lambda: self.monitor.get_health(_request_timeout=self.timeout),
            auth=False,
        )

    def get_dag(self, dag_id: str) -> DAGResponse | None:
        """The DAG as the API reports it, or ``None`` while it is not parsed yet."""
        try:
            return self._call(
                "GET",
                f"dags/{dag_id}",
                lambda: self.dags.get_dag(dag_id, _request_timeout=self.timeout),
            )
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise

    def import_errors(self) -> list[ImportErrorResponse]:
        """Current DAG import errors (``filename``, ``stack_trace``...)."""
        found = self._call(
            "GET",
            "importErrors",
            lambda: self.import_error_api.get_import_errors(
                limit=100, _request_timeout=self.timeout
            ),
        )
        return list(found.import_errors)

    def wait_for_dag(
        self, dag_id: str, *, timeout: float = 60.0, poll: float = 1.0, out: Printer | None = None
    ) -> DAGResponse:
        """Wait until the DAG processor has parsed ``dag_id``; fail early on import errors."""
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            dag = self.get_dag(dag_id)
            if dag is not None:
                return dag
            errors = self.import_errors()
            if errors:
                details = "\n".join(f"{e.filename}:\n{e.stack_trace}" for e in errors)
                raise AirflowLocalError(f"DAG {dag_id!r} not found; import errors:\n{details}")
            if time.monotonic() > deadline:
                raise AirflowLocalError(f"DAG {dag_id!r} was not parsed within {timeout:.0f} s")
            if out and not announced:
                out(f"waiting for the DAG processor to parse {dag_id!r}...")
                announced = True
            time.sleep(poll)

    def set_paused(self, dag_id: str, paused: bool) -> DAGResponse:
        """Pause or unpause ``dag_id``; the DAG as it is now."""
        return self._call(
            "PATCH",
            f"dags/{dag_id}",
            lambda: self.dags.patch_dag(
                dag_id, DAGPatchBody(is_paused=paused), _request_timeout=self.timeout
            ),
        )

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, *, run_id: str | None = None
    ) -> DAGRunResponse:
        """Create a manual run (no logical date, like the UI's trigger button)."""
        body = TriggerDAGRunPostBody(conf=dict(conf or {}), dag_run_id=run_id, logical_date=None)
        return self._call(
            "POST",
            f"dags/{dag_id}/dagRuns",
            lambda: self.dag_runs.trigger_dag_run(dag_id, body, _request_timeout=self.timeout),
        )

    def get_run(self, dag_id: str, run_id: str) -> DAGRunResponse:
        """One run of ``dag_id`` (its ``state.value`` is ``queued``, ``running``...)."""
        return self._call(
            "GET",
            f"dags/{dag_id}/dagRuns/{run_id}",
            lambda: self.dag_runs.get_dag_run(dag_id, run_id, _request_timeout=self.timeout),
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``task_id`` (with ``[map_index]`` for mapped tasks) -> state."""
        found = self._call(
            "GET",
            f"dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            lambda: self.task_instances.get_task_instances(
                dag_id, run_id, limit=1000, _request_timeout=self.timeout
            ),
        )
        states: dict[str, str | None] = {}
        for ti in found.task_instances:
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            states[key] = ti.state.value if ti.state is not None else None
        return states

    def task_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        *,
        try_number: int = 1,
        until: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """A try's whole log, as the UI reads it: its records (``event`` holds the text).

        With ``until``, read again (every half second, for up to ``timeout`` seconds) until the
        log holds every one of those texts: what a task writes after its state changed (the
        part a worker writes after a deferral, say) can reach the API server a moment later.
        Returns the log as it is then, whether or not it holds them.
        """
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task_id}/logs/{try_number}?full_content=true"
        )
        deadline = time.monotonic() + timeout
        while True:
            lines: list[dict[str, Any]] = self.request("GET", path)["content"]
            text = "\n".join(json.dumps(line) for line in lines)
            if all(part in text for part in until) or time.monotonic() > deadline:
                return lines
            time.sleep(0.5)

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 300.0,
        poll: float = 1.0,
        out: Printer | None = None,
    ) -> str:
        """Poll a run until it succeeds or fails; print task states as they change."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str | None] = {}
        run_state: str | None = None
        started = time.monotonic()
        while True:
            state = self.get_run(dag_id, run_id).state.value
            states = self.task_states(dag_id, run_id)
            if out:
                elapsed = time.monotonic() - started
                for task_id, task_state in sorted(states.items()):
                    if seen.get(task_id, "<new>") != task_state:
                        out(f"[{elapsed:5.1f}s]   {task_id}: {task_state or 'none'}")
                if state != run_state:
                    out(f"[{elapsed:5.1f}s] run {run_id}: {state}")
            seen, run_state = states, state
            if run_state in TERMINAL_RUN_STATES:
                return run_state
            if time.monotonic() > deadline:
                raise AirflowLocalError(
                    f"run {run_id} of {dag_id} still {run_state} after {timeout:.0f} s "
                    f"(tasks: {states})"
                )
            time.sleep(poll)

"""An Airflow failure callback that sends an aimops alert: ``AlertOnFailure``.

Set it as ``on_failure_callback`` on a task or in a DAG's ``default_args``. When a task
fails for good (not on a try that will be retried), Airflow calls it in the task's own
process with the task context; it builds an :class:`~aimops.monitors.checks.alerts.Alert` from it
and sends it with :func:`~aimops.monitors.checks.alerts.send_alert` (the alert log, and a webhook if
one is configured). The message is the task's error as the operators raise it (a failed
check's description), masked by Airflow's secrets masker; the check's URN comes from the
task's ``check_urn`` XCom when it pushed one. The callback never raises: a broken alert must
not hide the task's failure. It says in the task log where the alert went.

Keep webhook URLs out of DAG files (their path is a secret): set ``AIMOPS_ALERT_WEBHOOK`` in
the workers' environment, which is read when a task fails.

Example:
    >>> callback = AlertOnFailure(log_path="/tmp/aimops-doc/alerts.log")
    >>> callback
    AlertOnFailure(webhook='$AIMOPS_ALERT_WEBHOOK', log_path='/tmp/aimops-doc/alerts.log')
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from aimops.monitors.checks.alerts import (
    Alert,
    AlertDelivery,
    resolve_webhook_url,
    send_alert,
)
from aimops.webhooks import redacted_url

log = logging.getLogger("airflow.task")

CHECK_URN_KEY = "check_urn"
CHECK_FAILURE_KEY = "check_failure"
SOURCE_FIELDS = ("dag_id", "run_id", "task_id", "map_index", "try_number")


class AlertOnFailure:
    """``on_failure_callback=AlertOnFailure()``: alert on a task's final failure.

    ``webhook_url`` defaults to ``$AIMOPS_ALERT_WEBHOOK`` at the time of the failure (an
    empty string: no webhook); ``log_path`` to ``$AIMOPS_ALERT_LOG``, else
    ``<AIMOPS_HOME>/alerts.log``. A webhook that is not http(s) is refused here, when the DAG
    is parsed, with InvalidInputError. Nothing touches the network until a task fails.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        if webhook_url:
            resolve_webhook_url(webhook_url)
        self.webhook_url = webhook_url
        self.log_path = None if log_path is None else os.fspath(log_path)
        self.timeout = timeout

    def __call__(self, context: Mapping[str, Any]) -> None:
        try:
            alert = alert_from_context(context)
            delivery = send_alert(
                alert, log_path=self.log_path, webhook_url=self.webhook_url, timeout=self.timeout
            )
            _report(alert, delivery)
        except Exception:
            log.exception("aimops could not send the alert for this failure")

    def __repr__(self) -> str:
        if self.webhook_url is None:
            webhook = "$AIMOPS_ALERT_WEBHOOK"
        else:
            webhook = redacted_url(self.webhook_url) if self.webhook_url else ""
        return f"AlertOnFailure(webhook={webhook!r}, log_path={self.log_path!r})"


def alert_from_context(context: Mapping[str, Any]) -> Alert:
    """The alert for a failed task, from the context Airflow passes to its callbacks.

    Example:
        >>> from types import SimpleNamespace
        >>> ti = SimpleNamespace(
        ...     dag_id="scores", run_id="r1", task_id="drift", map_index=-1, try_number=1,
        ...     xcom_pull=lambda **_: "urn:aim:check:scores/r1/drift",
        ... )
        >>> alert = alert_from_context({"ti": ti, "exception": ValueError("drift in age")})
        >>> alert.title, alert.message, alert.check_urn
        ('scores.drift failed', 'drift in age', 'urn:aim:check:scores/r1/drift')
    """
    ti = context.get("ti") or context.get("task_instance")
    source = {
        name: str(value)
        for name in SOURCE_FIELDS
        if (value := getattr(ti, name, None)) is not None and value != ""
    }
    dag_id = source.get("dag_id") or _dag_id(context)
    source.setdefault("dag_id", dag_id)
    task = source.get("task_id", "?")
    map_index = source.get("map_index", "-1")
    where = f"{dag_id}.{task}" + (f"[{map_index}]" if map_index != "-1" else "")
    return Alert(
        title=f"{where} failed",
        message=_message(context.get("exception"), ti),
        source=source,
        check_urn=(check := _pushed_check_urn(ti)),
        links=_links(ti, check),
    )


def _dag_id(context: Mapping[str, Any]) -> str:
    dag = context.get("dag")
    return str(getattr(dag, "dag_id", None) or "?")


def _message(error: Any, ti: Any) -> str:
    """The error's text, masked; its type's name when the text is empty. Without an error
    (``airflow dags test`` in Airflow 3.2 passes none to callbacks) a check operator's
    ``check_failure`` XCom says what failed."""
    from aimops.operators.capture.task_values import mask_secrets

    if error is None:
        pushed = _pushed(ti, CHECK_FAILURE_KEY)
        if pushed:
            return str(mask_secrets(pushed))
        return "the task failed; Airflow passed no error to the callback (see the task log)"
    text = str(error).strip() or type(error).__name__
    return str(mask_secrets(text))


def _pushed_check_urn(ti: Any) -> str | None:
    """The ``check_urn`` XCom of this task instance, if it pushed one (None on any failure)."""
    return _pushed(ti, CHECK_URN_KEY)


def _pushed(ti: Any, key: str) -> str | None:
    """The XCom ``key`` this task instance pushed, if any (None on any failure)."""
    if ti is None:
        return None
    try:
        value = ti.xcom_pull(task_ids=ti.task_id, key=key, map_indexes=ti.map_index)
    except Exception as exc:
        log.warning("aimops could not read the task's %s XCom: %r", key, exc)
        return None
    return None if value is None else str(value)


def _links(ti: Any, check: str | None = None) -> dict[str, str]:
    """The task's log in the Airflow UI, the check's page in Airflow when the task recorded
    one, and its AIM step page when ``$AIMOPS_UI_URL`` is set."""
    from aimops.metadata.urns import step_urn
    from aimops.operators.links import step_page
    from aimops.operators.web.urls import check_url

    links: dict[str, str] = {}
    if ti is None:
        return links
    try:
        if url := getattr(ti, "log_url", None):
            links["log"] = str(url)
        if check is not None:
            links["check"] = check_url(check)
        step = step_urn("airflow", ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        if page := step_page(str(step)):
            links["aim_step"] = page
    except Exception as exc:
        log.warning("aimops could not build the alert's links: %r", exc)
    return links


def _report(alert: Alert, delivery: AlertDelivery) -> None:
    """Where the alert went, in the task log."""
    log.info("aimops alert %r written to %s", alert.title, delivery.logged_to)
    if delivery.webhook_delivered:
        log.info("aimops alert delivered to the webhook (HTTP %s)", delivery.webhook_status)
    elif delivery.webhook_error is not None:
        log.warning("aimops alert webhook delivery failed: %s", delivery.webhook_error)

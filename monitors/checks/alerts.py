"""Alerts when a check fails: one JSON line in a local log, and an optional webhook POST.

The alert log (``$AIMOPS_ALERT_LOG``, else ``<AIMOPS_HOME>/alerts.log``) gets one JSON line
per alert, written before any network call, so an alert is on disk even when the webhook
hangs or the process dies. Each line is appended with a single write: concurrent writers
(parallel tasks on one machine) never interleave lines.

A webhook (``webhook_url``, else ``$AIMOPS_ALERT_WEBHOOK``) receives the alert as JSON with a
top-level ``text`` (title and message), which is what Slack, Microsoft Teams and Mattermost
incoming webhooks display. Delivery never raises: an alert path must not hide the failure
it reports. What happened is in the returned :class:`AlertDelivery`, and a failed delivery
adds a second line to the log (``"record": "webhook_failed"``). The log names a webhook by
``scheme://host[:port]`` only: user, password, path and query stay out of it, because the
path of a Slack, Teams or Mattermost webhook URL is itself the secret.

Example:
    >>> import json, tempfile
    >>> log = f"{tempfile.mkdtemp()}/alerts.log"
    >>> alert = Alert(
    ...     "scores.drift failed",
    ...     "drift in 2 of 5 columns: age, income",
    ...     check_urn="urn:aim:check:nightly/1",
    ... )
    >>> delivery = send_alert(alert, log_path=log, webhook_url="")
    >>> json.loads(delivery.logged_to.read_text())["check_urn"]
    'urn:aim:check:nightly/1'
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.settings import aimops_home
from aimops.webhooks import RefuseRedirects, redacted_url, request_target, scrubbed

ALERT_LOG_ENV = "AIMOPS_ALERT_LOG"
ALERT_WEBHOOK_ENV = "AIMOPS_ALERT_WEBHOOK"
ALERT_LOG_NAME = "alerts.log"
WEBHOOK_SCHEMES = ("http", "https")
MAX_ERROR_TEXT = 500


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Alert:
    """Something failed and a person should know: what, where it ran, and where to look.

    ``source`` names where it happened (``dag_id``, ``run_id``, ``task_id``, ``try_number``,
    or a flow's names); ``links`` are pages to open (the task's log, the check's page);
    ``raised_at`` is ISO 8601 in UTC.

    Example:
        >>> alert = Alert("scores.drift failed", "drift in age", source={"dag_id": "scores"})
        >>> alert.text
        'scores.drift failed\\ndrift in age'
        >>> alert.to_dict()["severity"]
        'error'
    """

    title: str
    message: str
    severity: str = "error"
    source: dict[str, str] = field(default_factory=dict)
    check_urn: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    raised_at: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        """Refuse fields of the wrong kind, before the alert goes anywhere. Text may hold
        anything (it is what a failure said): a lone surrogate is written as its JSON
        escape."""
        validation.text(self.title, "an alert's title", storable=False)
        validation.text(self.message, "an alert's message", storable=False)
        validation.text(self.severity, "an alert's severity", empty=False, storable=False)
        source = validation.text_pairs(self.source, "an alert's source", storable=False)
        object.__setattr__(self, "source", source)
        validation.optional_text(self.check_urn, "an alert's check_urn", storable=False)
        links = validation.text_pairs(self.links, "an alert's links", storable=False)
        object.__setattr__(self, "links", links)
        validation.text(self.raised_at, "when an alert was raised", empty=False, storable=False)

    @property
    def text(self) -> str:
        """Title, message and links as chat text (what a Slack-style webhook shows)."""
        lines = [self.title, self.message]
        lines.extend(f"{name}: {url}" for name, url in self.links.items())
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        """The alert's fields as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class AlertDelivery:
    """Where an alert went: the log file, and the webhook's HTTP status or error (or None).

    ``webhook_status`` and ``webhook_error`` are both None when no webhook was configured.

    Example:
        >>> AlertDelivery(Path("alerts.log"), 200, None).webhook_delivered
        True
    """

    logged_to: Path
    webhook_status: int | None = None
    webhook_error: str | None = None

    @property
    def webhook_delivered(self) -> bool:
        """True when a webhook accepted the alert (a 2xx answer)."""
        return self.webhook_error is None and self.webhook_status is not None


def send_alert(
    alert: Alert,
    *,
    log_path: str | os.PathLike[str] | None = None,
    webhook_url: str | None = None,
    timeout: float = 5.0,
) -> AlertDelivery:
    """Append ``alert`` to the alert log and POST it to the webhook, if there is one.

    ``log_path`` defaults to ``$AIMOPS_ALERT_LOG``, else ``<AIMOPS_HOME>/alerts.log``;
    ``webhook_url`` to ``$AIMOPS_ALERT_WEBHOOK`` (an empty string means no webhook). Only
    http(s) webhooks are accepted (InvalidInputError, before anything is written). A user and
    password in the URL are sent as HTTP basic authentication. The webhook's failures
    (refused, ``timeout`` seconds passed, an HTTP error or a redirect) are reported in the
    result and the log, never raised; a log that cannot be written raises OSError.

    Example:
        >>> import tempfile
        >>> log = Path(tempfile.mkdtemp()) / "alerts.log"
        >>> send_alert(Alert("t failed", "boom"), log_path=log, webhook_url="").logged_to == log
        True
    """
    if not isinstance(alert, Alert):
        raise InvalidInputError(
            f"send_alert sends an Alert, not {type(alert).__name__} {validation.shown(alert)}"
        )
    url = resolve_webhook_url(webhook_url)
    path = _log_path(log_path)
    timeout = validation.real_number(timeout, "timeout", minimum=0.001)
    line = {"record": "alert", **alert.to_dict()}
    if url is not None:
        line["webhook"] = redacted_url(url)
    with validation.usable_path(path, "the alert log"):
        _append_line(path, line)
    if url is None:
        return AlertDelivery(logged_to=path)
    status, error = _post(url, {"text": alert.text, **alert.to_dict()}, timeout)
    if error is not None:
        failure = {
            "record": "webhook_failed",
            "title": alert.title,
            "check_urn": alert.check_urn,
            "raised_at": alert.raised_at,
            "webhook": redacted_url(url),
            "status": status,
            "error": error,
            "logged_at": _now(),
        }
        with validation.usable_path(path, "the alert log"):
            _append_line(path, failure)
    return AlertDelivery(logged_to=path, webhook_status=status, webhook_error=error)


def resolve_webhook_url(given: str | None) -> str | None:
    """The webhook to use: ``given``, else ``$AIMOPS_ALERT_WEBHOOK``; None when empty.

    Raises InvalidInputError, naming the scheme, for anything but an http(s) URL with a host.

    Example:
        >>> resolve_webhook_url("ftp://files.example.com/hook")
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidInputError: alert webhooks must be http or https URLs, not 'ftp'
    """
    if given is not None and not isinstance(given, str):  # not shown: it may hold a secret
        raise InvalidInputError(f"the alert webhook URL must be text, not {type(given).__name__}")
    url = (os.environ.get(ALERT_WEBHOOK_ENV, "") if given is None else given).strip()
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    if scheme not in WEBHOOK_SCHEMES:
        shown = repr(scheme) if scheme else "a URL without a scheme"
        raise InvalidInputError(f"alert webhooks must be http or https URLs, not {shown}")
    if not urlsplit(url).hostname:
        raise InvalidInputError(f"the alert webhook {redacted_url(url)} names no host")
    return url


def _log_path(given: str | os.PathLike[str] | None) -> Path:
    if given is not None:
        return validation.file_path(given, "log_path").expanduser()
    configured = os.environ.get(ALERT_LOG_ENV, "").strip()
    return Path(configured).expanduser() if configured else aimops_home() / ALERT_LOG_NAME


def _append_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line with a single ``write`` on an ``O_APPEND`` file."""
    data = _json_bytes(record) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, data)
    finally:
        os.close(descriptor)
    if written != len(data):
        raise OSError(f"only {written} of {len(data)} bytes of an alert reached {path}")


def _json_bytes(record: dict[str, Any]) -> bytes:
    """``record`` as UTF-8 JSON; a lone surrogate (UTF-8 cannot hold one) as its ``\\uXXXX``
    escape, which is where it can only be: inside a JSON string."""
    text = json.dumps(record, ensure_ascii=False, default=str)
    return text.encode("utf-8", errors="backslashreplace")


def _post(url: str, payload: dict[str, Any], timeout: float) -> tuple[int | None, str | None]:
    """POST ``payload`` as JSON; returns (HTTP status or None, error text or None)."""
    target, headers = request_target(url, "aimops-alerts")
    body = _json_bytes(payload)
    request = urllib.request.Request(target, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(RefuseRedirects())
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status), None
    except urllib.error.HTTPError as exc:
        return exc.code, _scrub(f"HTTP {exc.code} {exc.reason}", url)
    except urllib.error.URLError as exc:
        return None, _scrub(f"{type(exc.reason).__name__}: {exc.reason}", url)
    except Exception as exc:  # timeouts while reading, broken connections, bad answers
        return None, _scrub(f"{type(exc).__name__}: {exc}", url)


def _scrub(error: str, url: str) -> str:
    return scrubbed(error, url, MAX_ERROR_TEXT)

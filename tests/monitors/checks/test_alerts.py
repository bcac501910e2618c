"""Alerts: the JSON-lines alert log and the webhook, against a real local HTTP server."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aimops.errors import InvalidInputError
from aimops.monitors.checks.alerts import Alert, send_alert

ALERT = Alert(
    title="scores.check_drift failed",
    message="drift in 2 of 5 columns: age, income",
    source={"dag_id": "scores", "run_id": "manual__1", "task_id": "check_drift"},
    check_urn="urn:aim:check:airflow/scores/manual__1/check_drift",
    links={"log": "http://localhost:8080/dags/scores/runs/manual__1/tasks/check_drift"},
)


@dataclass
class Webhook:
    """A local HTTP server that records what it receives and answers with ``status``."""

    url: str
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (stopped early at teardown)
    received: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    hook = Webhook(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/B0/s3cretpath")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            if hook.delay:
                hook.released.wait(hook.delay)
            self.send_response(hook.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield hook
    hook.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_configured_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIMOPS_ALERT_LOG", raising=False)
    monkeypatch.delenv("AIMOPS_ALERT_WEBHOOK", raising=False)


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_webhook_receives_the_alert_as_slack_compatible_json(
    webhook: Webhook, tmp_path: Path
) -> None:
    delivery = send_alert(ALERT, log_path=tmp_path / "alerts.log", webhook_url=webhook.url)
    assert (delivery.webhook_status, delivery.webhook_error) == (200, None)
    assert delivery.webhook_delivered
    [request] = webhook.received
    assert request["path"] == "/hooks/T0/B0/s3cretpath"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["json"]
    assert body["text"].startswith(
        "scores.check_drift failed\ndrift in 2 of 5 columns: age, income"
    )
    assert ALERT.links["log"] in body["text"]
    assert body["title"] == ALERT.title
    assert body["message"] == ALERT.message
    assert body["severity"] == "error"
    assert body["check_urn"] == ALERT.check_urn
    assert body["source"] == ALERT.source
    assert body["links"] == ALERT.links
    assert body["raised_at"] == ALERT.raised_at


def test_a_delivered_alert_is_one_log_line_naming_the_webhook_by_host(
    webhook: Webhook, tmp_path: Path
) -> None:
    log = tmp_path / "alerts.log"
    send_alert(ALERT, log_path=log, webhook_url=webhook.url)
    [line] = lines(log)
    assert line == {"record": "alert", **ALERT.to_dict(), "webhook": webhook.url.split("/h")[0]}


def test_each_alert_appends_one_json_line(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "folder" / "alerts.log"
    second = Alert("scores.check_quality failed", "3 of 9 expectations failed")
    first_delivery = send_alert(ALERT, log_path=log)
    send_alert(second, log_path=log)
    assert first_delivery.logged_to == log
    assert (first_delivery.webhook_status, first_delivery.webhook_error) == (None, None)
    assert [line["title"] for line in lines(log)] == [ALERT.title, second.title]
    assert lines(log)[1]["check_urn"] is None


def test_concurrent_alerts_never_interleave_lines(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    long_message = "x" * 20_000

    def write(n: int) -> None:
        for i in range(20):
            send_alert(Alert(f"t{n}.{i} failed", long_message), log_path=log)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = lines(log)
    assert len(written) == 80
    assert all(line["message"] == long_message for line in written)


def test_a_webhook_answering_500_is_reported_not_raised(webhook: Webhook, tmp_path: Path) -> None:
    webhook.status = 500
    log = tmp_path / "alerts.log"
    delivery = send_alert(ALERT, log_path=log, webhook_url=webhook.url)
    assert delivery.webhook_status == 500
    assert delivery.webhook_error is not None and "500" in delivery.webhook_error
    assert not delivery.webhook_delivered
    alert_line, failure = lines(log)
    assert alert_line["title"] == ALERT.title
    assert failure["record"] == "webhook_failed"
    assert (failure["title"], failure["raised_at"]) == (ALERT.title, ALERT.raised_at)
    assert failure["status"] == 500 and "500" in failure["error"]


def test_a_refused_connection_is_reported_not_raised(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    url = f"http://127.0.0.1:{closed_port()}/hook"
    delivery = send_alert(ALERT, log_path=log, webhook_url=url, timeout=2)
    assert delivery.webhook_status is None
    assert delivery.webhook_error is not None and "refused" in delivery.webhook_error.lower()
    assert lines(log)[1]["error"] == delivery.webhook_error


def test_a_webhook_slower_than_the_timeout_is_reported_not_raised(
    webhook: Webhook, tmp_path: Path
) -> None:
    webhook.delay = 5
    log = tmp_path / "alerts.log"
    delivery = send_alert(ALERT, log_path=log, webhook_url=webhook.url, timeout=0.2)
    assert delivery.webhook_status is None
    assert delivery.webhook_error is not None and "timed out" in delivery.webhook_error
    assert [line["record"] for line in lines(log)] == ["alert", "webhook_failed"]


def test_a_redirect_is_not_followed(webhook: Webhook, tmp_path: Path) -> None:
    webhook.status = 302
    delivery = send_alert(ALERT, log_path=tmp_path / "alerts.log", webhook_url=webhook.url)
    assert delivery.webhook_status == 302
    assert not delivery.webhook_delivered
    assert len(webhook.received) == 1


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("file:///etc/passwd", "'file'"), ("ftp://example.com/hook", "'ftp'"), ("example.com", "")],
)
def test_only_http_webhooks_are_accepted(url: str, scheme: str, tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    with pytest.raises(InvalidInputError, match="http or https") as raised:
        send_alert(ALERT, log_path=log, webhook_url=url)
    assert scheme in str(raised.value)
    assert not log.exists()  # refused before anything was written


def test_credentials_in_the_webhook_url_never_reach_the_log(
    webhook: Webhook, tmp_path: Path
) -> None:
    log = tmp_path / "alerts.log"
    secret_url = webhook.url.replace("http://", "http://bot:pa55word@") + "?token=t0ken"
    webhook.status = 403
    delivery = send_alert(ALERT, log_path=log, webhook_url=secret_url)
    assert delivery.webhook_status == 403
    [request] = webhook.received
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(
        b"bot:pa55word"
    ).decode("ascii")
    assert request["path"] == "/hooks/T0/B0/s3cretpath?token=t0ken"
    text = log.read_text()
    for secret in ("bot", "pa55word", "t0ken", "s3cretpath"):
        assert secret not in text
    assert [line["webhook"] for line in lines(log)] == [webhook.url.split("/h")[0]] * 2


def test_the_environment_names_the_log_and_the_webhook(
    webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "from-env" / "alerts.log"
    monkeypatch.setenv("AIMOPS_ALERT_LOG", str(log))
    monkeypatch.setenv("AIMOPS_ALERT_WEBHOOK", webhook.url)
    delivery = send_alert(ALERT)
    assert delivery.logged_to == log
    assert delivery.webhook_status == 200
    assert len(lines(log)) == 1 and len(webhook.received) == 1
    send_alert(ALERT, webhook_url="")  # an empty URL turns the configured webhook off
    assert len(lines(log)) == 2 and len(webhook.received) == 1


def test_the_log_defaults_to_aimops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMOPS_HOME", str(tmp_path / "home"))
    delivery = send_alert(ALERT)
    assert delivery.logged_to == tmp_path / "home" / "alerts.log"
    assert lines(delivery.logged_to)[0]["message"] == ALERT.message


def test_a_failure_text_holding_a_lone_surrogate_is_still_alerted(
    webhook: Webhook, tmp_path: Path
) -> None:
    # What a failure says may come from a bad decode (a file name with surrogateescape): the
    # alert must not be lost to it. The log and the webhook get it as a JSON escape.
    said = "cannot open b\udcffad.csv"
    log = tmp_path / "alerts.log"
    delivery = send_alert(Alert("t failed", said), log_path=log, webhook_url=webhook.url)
    assert delivery.webhook_status == 200
    assert lines(log)[0]["message"] == said
    assert webhook.received[0]["json"]["message"] == said


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"alert": "t failed"}, "send_alert sends an Alert, not str"),
        ({"webhook_url": b"https://bot:pa55word@hooks.example.com"}, "must be text, not bytes"),
        ({"log_path": {}}, "log_path must be a path"),
        ({"log_path": "x" * 300}, "the alert log cannot name a file here"),
        ({"timeout": 0}, "timeout must be within"),
    ],
)
def test_arguments_of_the_wrong_kind_are_refused_by_name(
    arguments: dict[str, Any], message: str, tmp_path: Path
) -> None:
    given = {"alert": ALERT, "log_path": tmp_path / "alerts.log", "webhook_url": ""}
    given.update(arguments)
    if isinstance(given["log_path"], str):
        given["log_path"] = tmp_path / given["log_path"]
    with pytest.raises(InvalidInputError, match=message) as raised:
        send_alert(given.pop("alert"), **given)
    assert "pa55word" not in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": None}, "an alert's title must be text"),
        ({"source": "scores"}, "an alert's source must be a mapping"),
        ({"links": {"log": 3}}, r"an alert's links\['log'\] must be text"),
    ],
)
def test_an_alert_of_the_wrong_shape_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Alert(**{"title": "t failed", "message": "boom", **fields})

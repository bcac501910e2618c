"""Routers: the traffic file a serving layer reads (atomic, never backwards, never half
written, even when its writer is killed), the webhook (against a real local HTTP server), the
weights they accept, and finding a router by name."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aimops.errors import ConfigurationError, InvalidInputError, RouterUnavailableError
from aimops.metadata.lifecycle import routers
from aimops.metadata.lifecycle.routers import (
    FileRouter,
    TrafficState,
    WebhookRouter,
    check_weights,
    resolve_router,
)
from aimops.tasks import run_task

AT = "2025-01-01T00:00:00Z"
SECRET = "T0/B0/s3cr3t-token"


def state(revision: int = 7, weights: dict[str, int] | None = None, **more: Any) -> TrafficState:
    chosen = {"3": 95, "4": 5} if weights is None else weights
    return TrafficState("churn", "production", chosen, "3", revision, AT, **more)


@pytest.fixture(autouse=True)
def no_configured_router(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AIMOPS_ROUTER", "AIMOPS_TRAFFIC_DIR", "AIMOPS_ROUTER_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIMOPS_HOME", str(tmp_path / "home"))


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- the file router -------------------------------------------------------------------------


def test_the_file_router_writes_what_it_reads_back(tmp_path: Path) -> None:
    router = FileRouter(tmp_path)
    ramp = "urn:aim:ramp:churn/production/2"
    router.apply(state(ramp=ramp))

    target = tmp_path / "churn" / "production.json"
    assert router.path("churn", "production") == target
    assert router.current("churn", "production") == state(ramp=ramp)
    assert router.current("churn", "staging") is None
    document = state(ramp=ramp).to_dict()
    assert target.read_text() == json.dumps(document, sort_keys=True, indent=2) + "\n"
    assert json.loads(target.read_text())["weights"] == {"3": 95, "4": 5}
    assert temporaries(target.parent) == []


def test_the_traffic_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert FileRouter().root == tmp_path / "home" / "traffic"
    monkeypatch.setenv("AIMOPS_TRAFFIC_DIR", str(tmp_path / "served"))
    assert FileRouter().root == tmp_path / "served"
    assert FileRouter(tmp_path / "given").root == tmp_path / "given"


@pytest.mark.parametrize(
    ("model", "environment", "named"),
    [
        ("../churn", "production", "model"),
        ("churn", "../../etc/passwd", "environment"),
        ("churn", "..", "environment"),
        ("", "production", "model"),
        ("churn", "prod\x00uction", "environment"),
        ("a\\b", "production", "model"),
    ],
)
def test_names_cannot_leave_the_traffic_folder(
    tmp_path: Path, model: str, environment: str, named: str
) -> None:
    router = FileRouter(tmp_path / "traffic")
    with pytest.raises(InvalidInputError, match=named):
        router.path(model, environment)
    with pytest.raises(InvalidInputError, match=named):
        router.check(model, environment)
    assert not (tmp_path / "traffic").exists()


def test_a_stale_revision_never_undoes_a_newer_one(tmp_path: Path) -> None:
    router = FileRouter(tmp_path)
    router.apply(state(7))
    target = router.path("churn", "production")
    written = target.read_bytes()

    router.apply(state(6, {"3": 100}))  # a late retry of an older change
    assert target.read_bytes() == written
    router.apply(state(7))  # a replay: nothing to do
    assert target.read_bytes() == written
    router.apply(state(8, {}))  # nothing serves any more
    assert router.current("churn", "production") == state(8, {})


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"{not json", "corrupt"),
        (b"\xff\xfe", "corrupt"),
        (b'{"model": "churn"}', "environment"),
        (json.dumps({**state().to_dict(), "weights": {"3": 90}}).encode(), "sum to 100"),
        (json.dumps({**state().to_dict(), "model": "fraud"}).encode(), "holds fraud/production"),
    ],
)
def test_a_corrupt_traffic_file_is_named(tmp_path: Path, content: bytes, said: str) -> None:
    router = FileRouter(tmp_path)
    target = router.path("churn", "production")
    target.parent.mkdir()
    target.write_bytes(content)
    with pytest.raises(ConfigurationError, match=said) as caught:
        router.current("churn", "production")
    assert str(target) in str(caught.value)

    router.apply(state(1))  # the store is the record: applying its state mends the file
    assert router.current("churn", "production") == state(1)


def test_a_traffic_folder_under_a_file_fails_check_and_apply(tmp_path: Path) -> None:
    """Works for everyone, root too: no folder can be made under a regular file."""
    (tmp_path / "afile").write_text("not a folder")
    router = FileRouter(tmp_path / "afile" / "traffic")
    target = router.path("churn", "production")
    with pytest.raises(ConfigurationError, match="cannot write the traffic file") as caught:
        router.check("churn", "production")
    assert str(target) in str(caught.value) and "afile" in str(caught.value)
    with pytest.raises(ConfigurationError, match="Not a directory") as caught:
        router.apply(state())
    assert str(target) in str(caught.value)
    assert (tmp_path / "afile").read_text() == "not a folder"
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_an_unwritable_traffic_folder_fails_check_and_apply(tmp_path: Path) -> None:
    root = tmp_path / "traffic"
    root.mkdir(mode=0o500)
    try:
        router = FileRouter(root)
        with pytest.raises(ConfigurationError, match="Permission denied") as caught:
            router.check("churn", "production")
        assert str(router.path("churn", "production")) in str(caught.value)
        with pytest.raises(ConfigurationError, match="Permission denied"):
            router.apply(state())
        assert list(root.iterdir()) == []
    finally:
        root.chmod(0o700)


def test_check_creates_nothing(tmp_path: Path) -> None:
    router = FileRouter(tmp_path / "not" / "yet")
    router.check("churn", "production")
    assert list(tmp_path.iterdir()) == []


#: A writer in its own process: applies ever newer states with big weights maps (100 versions
#: of long names, some 20 kB a file), and says "ready" once the file exists.
WRITER = """
import sys
from aimops.metadata.lifecycle.routers import FileRouter, TrafficState

router, revision = FileRouter(sys.argv[1]), 0
while True:
    revision += 1
    versions = [f"{revision}-{i:03d}-" + "x" * 150 for i in range(100)]
    weights = dict.fromkeys(versions, 1)
    router.apply(TrafficState("churn", "production", weights, versions[0], revision,
                              "2025-01-01T00:00:00Z"))
    if revision == 1:
        print("ready", flush=True)
"""


def test_a_reader_never_sees_a_half_written_file_even_when_the_writer_is_killed(
    tmp_path: Path,
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        router = FileRouter(tmp_path)
        target = router.path("churn", "production")
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while len(seen) < 3000 or len(set(seen)) < 10:
            assert time.monotonic() < deadline, f"the writer is stuck at {seen[-1:]}"
            parsed = TrafficState.from_dict(json.loads(target.read_bytes()))  # never half
            assert len(parsed.weights) == 100 and sum(parsed.weights.values()) == 100
            seen.append(parsed.revision)
            if len(seen) % 100 == 0:
                seen.append(router.current("churn", "production").revision)  # type: ignore[union-attr]
        assert seen == sorted(seen)  # never backwards
        assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
    finally:
        writer.kill()  # SIGKILL, mid-loop: no handler runs, no cleanup
        writer.wait(timeout=30)

    survivor = router.current("churn", "production")
    assert survivor is not None and survivor.revision >= seen[-1]
    orphans = temporaries(target.parent)
    assert len(orphans) <= 1  # at most the write it was killed in
    assert all(name.startswith(".production.json.") for name in orphans)

    router.apply(state(survivor.revision + 1))
    assert temporaries(target.parent) == []
    assert router.current("churn", "production") == state(survivor.revision + 1)


#: A writer killed for sure mid-write: its fsync never returns.
STUCK_WRITER = """
import os, sys
from aimops.metadata.lifecycle.routers import FileRouter, TrafficState

def stuck(descriptor):
    print("writing", flush=True)
    sys.stdin.read()

os.fsync = stuck
FileRouter(sys.argv[1]).apply(TrafficState("churn", "production", {"4": 100}, "4", 5,
                                           "2025-01-01T00:00:00Z"))
"""


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_apply(
    tmp_path: Path,
) -> None:
    router = FileRouter(tmp_path)
    router.apply(state(4))
    folder = router.path("churn", "production").parent
    writer = subprocess.Popen(
        [sys.executable, "-c", STUCK_WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    finally:
        writer.kill()
        writer.wait(timeout=30)
    (orphan,) = temporaries(folder)
    assert orphan.startswith(".production.json.") and f".{writer.pid}." in orphan
    assert router.current("churn", "production") == state(4)  # readers never open it
    host = routers._host()
    live = f".production.json.{host}.{os.getpid()}.cafe.tmp"  # a writer still at work
    elsewhere = f".production.json.other-host.{writer.pid}.beef.tmp"  # cannot be asked
    for name in (live, elsewhere):
        (folder / name).write_text("{")

    router.apply(state(6))
    assert temporaries(folder) == sorted([live, elsewhere])
    assert router.current("churn", "production") == state(6)


# --- weights and states ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"3": 95, "4": 5}, {"3": 95, "4": 5}),
        ({3: 100, 4: 0}, {"3": 100}),  # numbers are versions' text; zeros are dropped
        ({"3": np.int64(50), "4": 50}, {"3": 50, "4": 50}),
        ({}, {}),  # nothing serves
        ({"3": 0}, None),
    ],
)
def test_check_weights_takes_whole_percents_summing_to_100(
    weights: dict[Any, Any], expected: dict[str, int] | None
) -> None:
    if expected is None:
        with pytest.raises(InvalidInputError, match=r"not 0 .*give \{\} when nothing serves"):
            check_weights(weights)
    else:
        assert check_weights(weights) == expected


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"3": 60, "4": 30}, 'weights must sum to 100, not 90 ({"3": 60, "4": 30})'),
        ({"3": 105, "4": -5}, "weight of version 3 is 105: weights are whole percents"),
        ({"3": 100, "4": -5}, "weight of version 4 is -5: weights are whole percents"),
        ({"3": True}, "weight of version 3 is True (bool)"),
        ({"3": 50.0, "4": 50}, "weight of version 3 is 50.0 (float)"),
        ({"3": "50", "4": 50}, "weight of version 3 is '50' (str)"),
        ({"": 100}, "a version in weights must not be empty"),
        ({" 3": 100}, "must not start or end with blanks"),
        ({True: 100}, "a version in weights must be text or a whole number, not bool"),
        ({None: 100}, "a version in weights must be text"),
        ({3: 50, "3": 50}, "version 3 is given twice"),
        ([("3", 100)], "weights must be a mapping of version to percent"),
    ],
)
def test_check_weights_names_what_is_wrong(weights: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_weights(weights)
    assert message in str(caught.value)


def test_a_traffic_state_is_json_and_checks_its_fields() -> None:
    document = state(ramp="urn:aim:ramp:churn/production/2").to_dict()
    assert json.loads(json.dumps(document)) == document
    assert set(document) == {
        "model", "environment", "weights", "champion", "revision", "updated_at", "ramp",
    }  # fmt: skip
    assert TrafficState.from_dict({**document, "text": "ignored"}) == TrafficState(**document)
    assert TrafficState.from_dict({k: v for k, v in document.items() if k != "ramp"}).ramp is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"revision": 0}, "revision"),
        ({"revision": 2.0}, "revision"),
        ({"revision": True}, "revision"),
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"updated_at": "2025-01-01T01:00:00+01:00"}, "updated_at must be an ISO 8601 time in UTC"),
        ({"model": ""}, "model"),
        ({"environment": None}, "environment"),
        ({"champion": ""}, "champion"),
        ({"weights": {"3": 90}}, "weights must sum to 100"),
        ({"ramp": "urn:aim:ramp:fraud/production/1"}, "ramp"),
        ({"ramp": "not a urn"}, "ramp"),
    ],
)
def test_from_dict_names_the_bad_field(change: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        TrafficState.from_dict({**state().to_dict(), **change})


def test_from_dict_names_a_missing_field() -> None:
    document = state().to_dict()
    del document["revision"]
    with pytest.raises(InvalidInputError, match=r"needs the field.* revision"):
        TrafficState.from_dict(document)
    with pytest.raises(InvalidInputError, match="mapping"):
        TrafficState.from_dict(["not", "a", "mapping"])  # type: ignore[arg-type]


# --- the webhook router ----------------------------------------------------------------------


@dataclass
class Hook:
    """A local HTTP server that records what it receives and answers with ``status``."""

    url: str
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Hook(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/{SECRET}?token=q1")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.received.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            self.send_response(found.status)
            if 300 <= found.status < 400:
                self.send_header("Location", "/elsewhere")
            self.end_headers()
            self.wfile.write(b"answer")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def test_the_webhook_receives_the_state_as_json_with_a_line_for_people(hook: Hook) -> None:
    router = WebhookRouter(hook.url.replace("http://", "http://bot:pa%40ss@"))
    router.check("churn", "production")
    router.apply(state(ramp="urn:aim:ramp:churn/production/2"))

    (received,) = hook.received
    assert received["path"] == f"/hooks/{SECRET}?token=q1"
    assert received["headers"]["Content-Type"] == "application/json"
    auth = base64.b64decode(received["headers"]["Authorization"].removeprefix("Basic "))
    assert auth == b"bot:pa@ss"
    text = received["json"].pop("text")
    assert text == "churn/production: 3=95%, 4=5% (revision 7)"
    assert received["json"] == state(ramp="urn:aim:ramp:churn/production/2").to_dict()
    assert router.current("churn", "production") is None  # a webhook cannot be asked
    assert SECRET not in repr(router) and "pa%40ss" not in repr(router)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_webhook_is_transient_so_the_task_retries(hook: Hook, status: int) -> None:
    hook.status = status
    router = WebhookRouter(hook.url)
    with pytest.raises(RouterUnavailableError, match=f"HTTP {status}") as caught:
        router.apply(state())
    message = str(caught.value)
    assert hook.url.split("/hooks")[0] in message
    assert SECRET not in message and "token" not in message and "q1" not in message
    outcome = run_task(lambda: router.apply(state()))
    assert outcome.failed and outcome.transient


@pytest.mark.parametrize(("status", "said"), [(404, "refused"), (302, "redirect")])
def test_a_wrong_webhook_url_fails_for_good(hook: Hook, status: int, said: str) -> None:
    hook.status = status
    with pytest.raises(ConfigurationError, match=said) as caught:
        WebhookRouter(hook.url).apply(state())
    assert SECRET not in str(caught.value) and "elsewhere" not in str(caught.value)
    assert [r["path"] for r in hook.received] == [f"/hooks/{SECRET}?token=q1"]  # not followed
    assert not run_task(lambda: WebhookRouter(hook.url).apply(state())).transient


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_webhook_is_transient_and_fails_fast() -> None:
    router = WebhookRouter(f"http://127.0.0.1:{free_port()}/hooks/{SECRET}", timeout=30)
    started = time.monotonic()
    with pytest.raises(
        RouterUnavailableError, match=r"could not reach http://127\.0\.0\.1:"
    ) as caught:
        router.apply(state())
    assert time.monotonic() - started < 5
    assert SECRET not in str(caught.value)


def test_a_webhook_that_never_answers_times_out_as_transient() -> None:
    with socket.socket() as silent:  # connections queue up, nobody reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        router = WebhookRouter(f"http://127.0.0.1:{port}/hooks/{SECRET}", timeout=0.2)
        with pytest.raises(RouterUnavailableError, match="timed out") as caught:
            router.apply(state())
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"ftp://files.example.com/{SECRET}", "http or https URL, not 'ftp'"),
        (f"hooks.example.com/{SECRET}", "without a scheme"),
        (f"https:///{SECRET}", "names no host"),
        (f"https://bot:{SECRET}@hooks.example.com:http/{SECRET}", "no valid port"),
        ("", "needs a URL"),
    ],
)
def test_a_webhook_router_needs_an_http_url(url: str, said: str) -> None:
    with pytest.raises(ConfigurationError, match=said) as caught:
        WebhookRouter(url)
    assert SECRET not in str(caught.value)


def test_the_webhook_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, hook: Hook
) -> None:
    with pytest.raises(ConfigurationError, match="AIMOPS_ROUTER_WEBHOOK"):
        WebhookRouter()
    monkeypatch.setenv("AIMOPS_ROUTER_WEBHOOK", hook.url)
    WebhookRouter().apply(state())
    assert len(hook.received) == 1
    with pytest.raises(InvalidInputError, match="must be text, not bytes"):
        WebhookRouter(hook.url.encode())  # type: ignore[arg-type]


# --- finding a router ------------------------------------------------------------------------


def test_the_built_in_routers_are_registered_as_entry_points() -> None:
    found = {point.name: point.load() for point in entry_points(group="aimops.routers")}
    assert found["file"] is FileRouter and found["webhook"] is WebhookRouter


def test_resolve_router_by_name_object_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(resolve_router(), FileRouter)
    assert isinstance(resolve_router("file"), FileRouter)
    mine = FileRouter(tmp_path)
    assert resolve_router(mine) is mine
    monkeypatch.setenv("AIMOPS_ROUTER_WEBHOOK", "https://hooks.example.com/x")
    assert isinstance(resolve_router("webhook"), WebhookRouter)
    monkeypatch.setenv("AIMOPS_ROUTER", "webhook")
    assert isinstance(resolve_router(), WebhookRouter)
    assert isinstance(resolve_router("file"), FileRouter)  # a name given wins


def test_an_unknown_router_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"'carrier-pigeon'.*known: file, webhook"):
        resolve_router("carrier-pigeon")
    monkeypatch.setenv("AIMOPS_ROUTER", "carrier-pigeon")
    with pytest.raises(ConfigurationError, match="AIMOPS_ROUTER"):
        resolve_router()
    with pytest.raises(InvalidInputError, match="check, apply and current"):
        resolve_router(42)  # type: ignore[arg-type]


def test_plugins_and_the_fallback_without_distribution_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = "aimops.routers"
    points = [
        EntryPoint("disk", "aimops.metadata.lifecycle.routers:FileRouter", group),
        EntryPoint("broken", "aimops_no_such_module:Router", group),
        EntryPoint("odd", "json:dumps", group),
        EntryPoint("needy", "argparse:Action", group),
    ]
    monkeypatch.setattr(routers, "entry_points", lambda group: points)
    assert isinstance(resolve_router("disk"), FileRouter)
    with pytest.raises(ConfigurationError, match=r"'broken'.*cannot be loaded"):
        resolve_router("broken")
    with pytest.raises(ConfigurationError, match=r"'odd'.*no check, apply and current"):
        resolve_router("odd")
    with pytest.raises(ConfigurationError, match="'needy' cannot be made without arguments"):
        resolve_router("needy")
    with pytest.raises(ConfigurationError, match="known: broken, disk, file, needy, odd, webhook"):
        resolve_router("nothing")

    monkeypatch.setattr(routers, "entry_points", lambda group: [])  # a bare checkout
    assert isinstance(resolve_router("file"), FileRouter)

"""``@tracked`` Prefect flows, run for real: what the AIM store holds of them afterwards."""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task
from pydantic import SecretStr

from aimops.errors import InvalidInputError
from aimops.flows import tracked
from aimops.metadata.references import artifact_ref, dataset_ref, model_version_ref
from aimops.metadata.store import AimStore
from aimops.metadata.views import run_details

FLAKY: dict[str, int] = {}


@task(retries=2)
def flaky(name: str) -> str:
    """Fails on its first two tries, like a feature store timing out."""
    FLAKY[name] = FLAKY.get(name, 0) + 1
    if FLAKY[name] < 3:
        raise TimeoutError(f"feature store timed out (try {FLAKY[name]})")
    return name


@task(retries=1, retry_delay_seconds=0.05)
def delayed(name: str) -> str:
    """Fails once, then waits its retry delay (Prefect's AwaitingRetry) and succeeds."""
    FLAKY[name] = FLAKY.get(name, 0) + 1
    if FLAKY[name] == 1:
        raise ConnectionError("broker went away")
    return name


@task(timeout_seconds=0.2)
def slow() -> None:
    import time

    time.sleep(1)


@tracked
@flow
def delaying_flow() -> str:
    slow_state = slow(return_state=True)
    assert slow_state.is_failed()
    return delayed("delayed")


@task
def boom() -> None:
    raise RuntimeError("the GPU is on fire")


@task
def after(value: Any) -> Any:
    return value


@task
def double(x: int) -> int:
    import time

    time.sleep(max(0, 60 - x) / 1000)  # later calls end first, and may start first
    return 2 * x


@tracked
@flow
def retrying_flow(name: str = "a") -> str:
    return flaky(name)


@tracked
@flow
def failing_flow() -> None:
    broken = boom.submit()
    after.submit(broken).wait()  # never runs: its upstream failed


@tracked
@flow
def raising_flow() -> None:
    raise ValueError("the flow itself broke")


@tracked(project="calls")
@flow
def calling_flow() -> list[int]:
    after(0)  # called once: no <n>
    results = [double(x) for x in (10, 20)]  # called five times in all: <n> 0 to 4
    results += double.map([30, 40, 50]).result()
    return results


@tracked
@flow
def mapping_flow(items: int) -> list[int]:
    return double.map(list(range(items))).result()


def test_a_long_map_keeps_its_order_though_its_ids_share_milliseconds(
    aim_home: Path, store: Any, read: Any
) -> None:
    # Prefect's own UUID 7 ids are random within a millisecond; capture makes them increasing
    assert mapping_flow(40) == [2 * x for x in range(40)]
    with store() as s:
        steps = read.steps(s, read.only_run(s, "mapping-flow"))
    inputs = [steps[f"double/{n}"]["tries"][0]["rendered_fields"]["x"] for n in range(40)]
    assert inputs == [str(x) for x in range(40)]


def test_task_run_ids_are_made_in_increasing_order() -> None:
    from aimops.flows.capture.ordering import monotonic_uuid7

    made = [monotonic_uuid7() for _ in range(5_000)]
    assert all(a.int < b.int for a, b in itertools.pairwise(made))
    assert {m.version for m in made} == {7} and {m.variant for m in made} == {uuid.RFC_4122}


def test_every_try_is_an_attempt_with_its_error(aim_home: Path, store: Any, read: Any) -> None:
    FLAKY.clear()
    assert retrying_flow("a") == "a"
    with store() as s:
        run = read.only_run(s, "retrying-flow")
        info = s.get_aspect(run, "runInfo").value
        assert (info["status"], info["native_state"], info["orchestrator"]) == (
            "success",
            "Completed",
            "prefect",
        )
        assert info["conf"] == {"name": "a"}
        step = read.steps(s, run)["flaky"]
    assert (step["info"]["state"], step["info"]["native_state"]) == ("success", "Completed")
    tries = [(t["try_number"], t["state"], t["native_state"], t["error"]) for t in step["tries"]]
    assert tries == [
        (1, "failed", "Retrying", "TimeoutError: feature store timed out (try 1)"),
        (2, "failed", "Retrying", "TimeoutError: feature store timed out (try 2)"),
        (3, "success", "Completed", None),
    ]
    for earlier, later in zip(step["tries"], step["tries"][1:], strict=False):
        assert earlier["started_at"] <= earlier["ended_at"] <= later["started_at"]
    assert step["tries"][0]["rendered_fields"] == {"name": "a"}


def test_a_retry_delay_and_a_timeout_keep_their_errors(
    aim_home: Path, store: Any, read: Any
) -> None:
    FLAKY.clear()
    assert delaying_flow() == "delayed"
    with store() as s:
        steps = read.steps(s, read.only_run(s, "delaying-flow"))
    tries = [(t["state"], t["native_state"], t["error"]) for t in steps["delayed"]["tries"]]
    assert tries == [
        ("failed", "AwaitingRetry", "ConnectionError: broker went away"),
        ("success", "Completed", None),
    ]
    assert [(t["state"], t["native_state"]) for t in steps["slow"]["tries"]] == [
        ("failed", "TimedOut")
    ]
    assert steps["slow"]["tries"][0]["error"].startswith("TaskRunTimeoutError")


def test_a_failure_and_its_upstream_failed_downstream(
    aim_home: Path, store: Any, read: Any
) -> None:
    failing_flow()
    with store() as s:
        run = read.only_run(s, "failing-flow")
        steps = read.steps(s, run)
        pipeline = s.get_aspect("urn:aim:pipeline:prefect/failing-flow", "pipelineTasks").value
    assert steps["boom"]["info"]["state"] == "failed"
    assert [t["error"] for t in steps["boom"]["tries"]] == ["RuntimeError: the GPU is on fire"]
    assert steps["after"]["info"]["state"] == "upstream_failed"
    assert steps["after"]["info"]["native_state"] == "NotReady"
    assert steps["after"]["tries"] == []
    upstream = {t["task_id"]: t["upstream"] for t in pipeline["tasks"]}
    assert upstream == {"after": ["boom"], "boom": []}


def test_a_flow_that_raises_is_a_failed_run(aim_home: Path, store: Any, read: Any) -> None:
    state = raising_flow(return_state=True)
    assert state.is_failed()
    with store() as s:
        info = s.get_aspect(read.only_run(s, "raising-flow"), "runInfo").value
    assert (info["status"], info["native_state"]) == ("failed", "Failed")
    assert info["ended_at"] is not None


def test_a_late_cancellation_of_an_ended_run_keeps_the_state_it_ended_in(
    aim_home: Path, store: Any, read: Any
) -> None:
    """A served run's process stopped after its state was final: Prefect's runner calls the
    flow's cancellation hooks in another process, which never saw the run's body."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled, Crashed

    from aimops.flows.capture.tracked import aimops_capture

    state = raising_flow(return_state=True)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    aimops_capture(raising_flow, flow_run, Cancelled())
    aimops_capture(raising_flow, flow_run, Crashed())
    with store() as s:
        run = read.only_run(s, "raising-flow")
        info = s.get_aspect(run, "runInfo").value
        versions = len(s.history(run))
    assert (info["status"], info["native_state"]) == ("failed", "Failed")

    flow_run.id = uuid.uuid4()  # a run cancelled before any process recorded it: recorded
    aimops_capture(raising_flow, flow_run, Cancelled())
    with store() as s:
        cancelled = s.get_aspect(f"urn:aim:run:prefect/raising-flow/{flow_run.id}", "runInfo")
        assert len(s.history(run)) == versions
    assert cancelled is not None and cancelled.value["status"] == "cancelled"


def test_repeated_calls_and_map_are_numbered_in_call_order(
    aim_home: Path, store: Any, read: Any
) -> None:
    assert calling_flow() == [20, 40, 60, 80, 100]
    with store() as s:
        run = read.only_run(s, "calling-flow")
        steps = read.steps(s, run)
        project = [e.urn for e in s.related("urn:aim:pipeline:prefect/calling-flow", "partOf")]
    assert sorted(steps) == ["after", *(f"double/{n}" for n in range(5))]
    inputs = [steps[f"double/{n}"]["tries"][0]["rendered_fields"]["x"] for n in range(5)]
    assert inputs == ["10", "20", "30", "40", "50"]
    assert [steps[f"double/{n}"]["info"]["map_index"] for n in range(5)] == [0, 1, 2, 3, 4]
    assert steps["after"]["info"]["map_index"] is None
    assert project == ["urn:aim:project:calls"]


@task
def load() -> dict[str, Any]:
    return {"train": dataset_ref("cap-train", rows=80), "test": dataset_ref("cap-test", rows=20)}


@task
def fit(data: dict[str, Any]) -> dict[str, Any]:
    return artifact_ref("model.bin", uri="file:///models/model.bin", key=["cap", "model"])


@task
def register(model: dict[str, Any]) -> dict[str, Any]:
    return model_version_ref("cap-churn", 1, uri="file:///models/model.bin")


@task
def pass_on(model: dict[str, Any]) -> dict[str, Any]:
    return model  # received, not made: not its output


@task
def is_recorded(version: dict[str, Any]) -> bool:
    """What a task after ``register`` finds in the store (an evaluation needs the version)."""
    from aimops.metadata.store import AimStore
    from aimops.settings import default_store_url

    with AimStore.open(default_store_url()) as store:
        return store.get_entity(version["urn"]) is not None


@tracked
@flow
def lineage_flow() -> bool:
    model = fit(load())
    version = register(model)
    pass_on(model)
    return is_recorded(version)


def test_references_returned_and_received_are_lineage(
    aim_home: Path, store: Any, read: Any
) -> None:
    assert lineage_flow() is True  # what a task made is in the store before the next one runs
    with store() as s:
        steps = read.steps(s, read.only_run(s, "lineage-flow"))
        assert s.get_aspect("urn:aim:dataset:cap-train", "datasetInfo").value["rows"] == 80
    assert steps["load"]["produced"] == ["urn:aim:dataset:cap-test", "urn:aim:dataset:cap-train"]
    assert steps["fit"]["consumed"] == ["urn:aim:dataset:cap-test", "urn:aim:dataset:cap-train"]
    assert steps["fit"]["produced"] == ["urn:aim:artifact:cap/model"]
    assert steps["register"]["consumed"] == ["urn:aim:artifact:cap/model"]
    assert steps["register"]["made"] == ["urn:aim:modelVersion:cap-churn/1"]
    assert steps["pass_on"]["consumed"] == ["urn:aim:artifact:cap/model"]
    assert steps["pass_on"]["produced"] == []


@flow
def child(n: int) -> int:
    return double(n)


@flow
def empty_child() -> int:
    return 0


@tracked
@flow
def tracked_child(n: int) -> int:
    return double(n)


@task
def calls_a_subflow(n: int) -> int:
    return child(n)


@tracked
@flow
def task_parent_flow() -> int:
    return calls_a_subflow(4)


def test_a_subflow_called_inside_a_task_is_a_run_of_its_own(
    aim_home: Path, store: Any, read: Any
) -> None:
    assert task_parent_flow() == 8
    with store() as s:
        parent = read.only_run(s, "task-parent-flow")
        runs = [e.urn for e in s.search("run") if "/child/" in e.urn]
        assert len(runs) == 1
        assert [e.urn for e in s.related(runs[0], "partOf") if e.type == "run"] == [parent]
        assert list(read.steps(s, runs[0])) == ["double"]
        assert list(read.steps(s, parent)) == ["calls_a_subflow"]


@tracked
@flow
def parent_flow() -> int:
    return child(1) + child(2) + empty_child() + tracked_child(3)


def test_subflow_runs_are_runs_of_their_own_listed_by_the_parent(
    aim_home: Path, store: Any, read: Any
) -> None:
    assert parent_flow() == 12
    with store() as s:
        parent = read.only_run(s, "parent-flow")
        listed = sorted(e.urn.split("/")[0] for e in s.related(parent, "partOf", incoming=True))
        children = [e.urn for e in s.related(parent, "partOf", incoming=True) if e.type == "run"]
        by_flow = {urn.split(":")[3].split("/")[1]: urn for urn in children}
        steps = {name: read.steps(s, urn) for name, urn in by_flow.items() if name != "child"}
        child_runs = [u for u in children if "/child/" in u]
        child_steps = [read.steps(s, u) for u in child_runs]
        infos = {u: s.get_aspect(u, "runInfo").value for u in children}
        assert read.steps(s, parent) == {}  # the subflows' task runs are theirs, not the parent's
        shown = run_details(s, parent)  # what `aimops runs show` prints
    assert listed == ["urn:aim:run:prefect"] * 4
    assert sorted(by_flow) == ["child", "empty-child", "tracked-child"]
    assert len(child_runs) == 2
    assert [sorted(steps) for steps in child_steps] == [["double"], ["double"]]
    assert steps["empty-child"] == {}
    assert list(steps["tracked-child"]) == ["double"]
    assert {i["status"] for i in infos.values()} == {"success"}
    assert shown is not None and shown["steps"] == []
    assert sorted((r["pipeline"], r["status"]) for r in shown["subruns"]) == [
        ("child", "success"),
        ("child", "success"),
        ("empty-child", "success"),
        ("tracked-child", "success"),
    ]


@task
def connect(token: SecretStr, password: str, settings: dict[str, Any], key: Any) -> int:
    return len(token.get_secret_value() + password + key.get())


@tracked
@flow
def secret_flow(token: SecretStr, password: str = "hunter2-pass") -> int:
    from prefect.blocks.system import Secret

    key = Secret(value="block-very-secret")
    return connect(token, password, {"db": {"$ref": {"block_document_id": "8f2c"}}}, key)


def test_secrets_in_parameters_are_masked(aim_home: Path, store: Any, read: Any) -> None:
    assert secret_flow(SecretStr("tok-very-secret")) == len("tok-very-secret") + 12 + 17
    with store() as s:
        run = read.only_run(s, "secret-flow")
        conf = s.get_aspect(run, "runInfo").value["conf"]
        fields = read.steps(s, run)["connect"]["tries"][0]["rendered_fields"]
    assert conf == {"token": "***", "password": "***"}
    assert fields == {
        "token": "***",
        "password": "***",
        "settings": "{'db': '***'}",
        "key": "***",
    }
    raw = (aim_home / "aim.db").read_bytes()
    for secret in (b"tok-very-secret", b"hunter2-pass", b"block-very-secret"):
        assert secret not in raw


def test_async_flows_and_tasks_are_captured(aim_home: Path, store: Any, read: Any) -> None:
    @task(retries=1)
    async def fetch(n: int) -> int:
        FLAKY["async"] = FLAKY.get("async", 0) + 1
        if FLAKY["async"] == 1:
            raise ConnectionError("reset by peer")
        return n

    @tracked
    @flow
    async def async_flow() -> int:
        return await fetch(5)

    import asyncio

    FLAKY.pop("async", None)
    assert asyncio.run(async_flow()) == 5
    with store() as s:
        step = read.steps(s, read.only_run(s, "async-flow"))["fetch"]
    assert [(t["state"], t["error"]) for t in step["tries"]] == [
        ("failed", "ConnectionError: reset by peer"),
        ("success", None),
    ]


def test_the_kill_switch_turns_capture_off(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMOPS_CAPTURE", "off")
    FLAKY.clear()
    assert retrying_flow("off") == "off"
    assert not (aim_home / "aim.db").exists()
    assert not (aim_home / "spool").exists() or not any((aim_home / "spool").iterdir())


def test_an_unreachable_store_spools_and_replay_brings_the_run_in_once(
    aim_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    read: Any,
    aimops_command: Any,
) -> None:
    monkeypatch.setenv("AIMOPS_STORE_URL", "postgresql://aim:hunter2-secret@127.0.0.1:9/aim")
    monkeypatch.setenv("AIMOPS_CAPTURE_TIMEOUT", "1")
    FLAKY.clear()
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert retrying_flow("down") == "down"  # capture trouble never changes the outcome
    lines = (aim_home / "spool" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the run's start, then the run with its task runs
    assert "hunter2-secret" not in caplog.text
    assert len([r for r in caplog.records if "cannot take capture events" in r.getMessage()]) == 1

    target = f"sqlite:///{aim_home / 'replayed.db'}"
    first = aimops_command("spool", "replay", "--store", target, "--json", home=aim_home)
    assert json.loads(first)["applied"] == 2
    with AimStore.open(target) as s:
        run = read.only_run(s, "retrying-flow")
        assert s.get_aspect(run, "runInfo").value["status"] == "success"
        tries = read.steps(s, run)["flaky"]["tries"]
        versions = len(s.history(run))
    assert [t["state"] for t in tries] == ["failed", "failed", "success"]
    again = aimops_command("spool", "replay", "--store", target, "--json", home=aim_home)
    assert json.loads(again)["applied"] == 0
    with AimStore.open(target) as s:
        assert len(s.history(run)) == versions


def test_a_broken_store_setting_never_fails_the_flow(
    aim_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIMOPS_STORE_URL", "nonsense://nowhere")
    FLAKY.clear()
    with caplog.at_level(logging.WARNING, logger="aimops.capture"):
        assert retrying_flow("broken") == "broken"
    assert "aimops" in caplog.text  # said once, in the flow's log


def test_tracked_takes_only_prefect_flows() -> None:
    with pytest.raises(InvalidInputError, match=r"@tracked goes above @flow.*'plain'"):

        @tracked
        def plain() -> None: ...

    assert tracked(retrying_flow) is retrying_flow  # tracking twice is tracking once
    with pytest.raises(InvalidInputError, match="project is a name"):
        tracked(project="  ")


HOOKED: list[str] = []


@tracked
@flow(on_completion=[lambda flow, flow_run, state: HOOKED.append(state.name)])
def hooked_flow() -> int:
    return double(1)


def test_the_flows_own_hooks_still_run(aim_home: Path, store: Any, read: Any) -> None:
    HOOKED.clear()
    assert hooked_flow() == 2
    assert HOOKED == ["Completed"]
    assert hooked_flow.with_options(name="hooked-copy")() == 2  # a copy stays tracked
    assert HOOKED == ["Completed", "Completed"]
    with store() as s:
        assert list(read.steps(s, read.only_run(s, "hooked-flow"))) == ["double"]
        assert list(read.steps(s, read.only_run(s, "hooked-copy"))) == ["double"]


@task
def total(rows: list[int], frame: Any) -> int:
    return len(rows) + len(frame)


@tracked
@flow
def big_input_flow(n: int) -> int:
    import pandas as pd

    return total(list(range(n)), pd.DataFrame({"x": range(n), "secret_token": ["s3cr3t"] * n}))


def test_large_inputs_are_kept_as_a_bounded_sample(aim_home: Path, store: Any, read: Any) -> None:
    assert big_input_flow(200_000) == 400_000
    with store() as s:
        fields = read.steps(s, read.only_run(s, "big-input-flow"))["total"]["tries"][0]
    kept = fields["rendered_fields"]
    assert kept["rows"].endswith("'… 199950 more']") and len(kept["rows"]) < 2100
    assert len(kept["frame"]) <= 2001  # a data frame's repr, cut


@tracked
@flow
def unhandled_flow() -> None:
    boom()  # raises into the flow: the flow fails, nothing after it runs
    after(1)


def test_a_task_failure_that_ends_the_flow(aim_home: Path, store: Any, read: Any) -> None:
    assert unhandled_flow(return_state=True).is_failed()
    with store() as s:
        run = read.only_run(s, "unhandled-flow")
        steps = read.steps(s, run)
        info = s.get_aspect(run, "runInfo").value
    assert info["status"] == "failed"
    assert list(steps) == ["boom"]
    assert steps["boom"]["tries"][0]["error"] == "RuntimeError: the GPU is on fire"


@tracked
@flow
def threaded_flow(tag: str) -> list[int]:
    return [double(x) for x in range(3)]


def test_tracked_flows_running_at_once_in_threads_keep_to_their_own_runs(
    aim_home: Path, store: Any, read: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(threaded_flow, ["a", "b"]))
    assert results == [[0, 2, 4], [0, 2, 4]]
    with store() as s:
        runs = [e.urn for e in s.search("run") if "/threaded-flow/" in e.urn]
        by_tag = {s.get_aspect(r, "runInfo").value["conf"]["tag"]: read.steps(s, r) for r in runs}
    assert sorted(by_tag) == ["a", "b"]
    for steps in by_tag.values():
        assert sorted(steps) == ["double/0", "double/1", "double/2"]
        assert [steps[f"double/{n}"]["tries"][0]["rendered_fields"]["x"] for n in range(3)] == [
            "0",
            "1",
            "2",
        ]

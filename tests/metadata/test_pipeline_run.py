"""PipelineRun, the plain-Python capture, behaves as capture does: it never fails the pipeline.

It takes a store URL, an open store or nothing (the default store); when the store is down its
events wait in the spool, in order, and a replay records exactly what a live store would have;
``AIMOPS_CAPTURE=off`` records nothing; wrong input raises at once, before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from aimops import PipelineRun
from aimops.errors import InvalidInputError
from aimops.metadata.capture.spool import Spool
from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn

DOWN = "postgresql+psycopg://aimops@127.0.0.1:1/aim"  # nothing listens on port 1


def churn_pipeline(run: PipelineRun) -> None:
    """Two steps: prepare (reads raw, writes train) and train (reads train, logs, registers)."""
    with run.step("prepare") as step:
        step.consumes_dataset("customers-raw", rows=5000, format="csv")
        step.produces_dataset("customers-train", rows=4000)
    with run.step("train") as step:
        step.consumes_dataset("customers-train")
        step.log_params({"learning_rate": 0.5})
        step.log_metrics({"train_auroc": 0.81})
        step.log_metrics({"train_auroc": 0.83, "train_loss": 0.4})
        model_file = step.produces_artifact("model.npy", kind="model")
        step.registers_model_version("churn", 1, uri="s3://models/churn/1")
        assert model_file == Urn("artifact", ("model.npy",))


def recorded(store: AimStore, run: PipelineRun) -> dict[str, object]:
    """What a user would look at after the run: states, lineage, metrics, the model version."""
    train = Urn("step", ("python", run.pipeline, run.run_id, "train"))
    return {
        "run": store.get_aspect(run.urn, "runInfo").value["status"],  # type: ignore[union-attr]
        "steps": sorted(
            (e.value["task_id"], e.value["state"])
            for e in (store.get_aspect(s, "stepInfo") for s in _steps(store, run))
            if e is not None
        ),
        "consumed": sorted(e.urn for e in store.related(train, "consumed")),
        "produced": sorted(e.urn for e in store.related(train, "produced")),
        "metrics": store.get_aspect(train, "metrics").value,  # type: ignore[union-attr]
        "params": store.get_aspect(train, "params").value,  # type: ignore[union-attr]
        "model": [e.urn for e in store.related("urn:aim:modelVersion:churn/1", "producedBy")],
        "rows": store.get_aspect("urn:aim:dataset:customers-raw", "datasetInfo").value["rows"],  # type: ignore[union-attr]
    }


def _steps(store: AimStore, run: PipelineRun) -> list[str]:
    return [e.urn for e in store.related(run.urn, "partOf", incoming=True)]


EXPECTED = {
    "run": "success",
    "steps": [("prepare", "success"), ("train", "success")],
    "consumed": ["urn:aim:dataset:customers-train"],
    "produced": ["urn:aim:artifact:model.npy"],
    "metrics": {"train_auroc": 0.83, "train_loss": 0.4},  # later values of a name win
    "params": {"learning_rate": "0.5"},
    "model": ["urn:aim:step:python/churn/r1/train"],
    "rows": 5000,
}


def test_an_open_store_is_recorded_into_and_stays_open(store: AimStore) -> None:
    with PipelineRun("churn", store=store, run_id="r1") as run:
        churn_pipeline(run)
    assert recorded(store, run) == EXPECTED
    assert run.outcomes == {"stored": sum(run.outcomes.values())}
    assert store.count("run") == 1  # the caller's store is still open and answers


def test_a_store_url_is_opened_by_the_run(sqlite_url: str) -> None:
    AimStore.open(sqlite_url).close()
    with PipelineRun("churn", store=sqlite_url, run_id="r1") as run:
        churn_pipeline(run)
    with AimStore.open(sqlite_url) as store:
        assert recorded(store, run) == EXPECTED
        attempt = store.get_aspect(Urn("step", ("python", "churn", "r1", "train")), "stepAttempts")
        assert attempt is not None and attempt.actor != "aimops-capture"  # the user wrote it


def test_nothing_given_means_the_default_store(tmp_path: Path) -> None:
    with PipelineRun("churn", run_id="r1") as run:  # $AIMOPS_HOME is the test's own
        churn_pipeline(run)
    with AimStore.open() as store:
        assert recorded(store, run) == EXPECTED


def test_a_store_that_is_down_never_fails_the_pipeline_and_loses_nothing(
    tmp_path: Path, store: AimStore, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    with (
        caplog.at_level(logging.WARNING, logger="aimops.capture"),
        PipelineRun("churn", store=DOWN, run_id="r1", spool=spool) as run,
    ):
        churn_pipeline(run)
    assert run.outcomes == {"spooled": spool.pending()} and spool.pending() >= 10  # in order
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "aimops spool replay" in warnings[0]  # said once, not per event
    assert "127.0.0.1:1" in warnings[0]

    pending = spool.pending()
    report = spool.replay(store)
    assert (report.applied, report.rejected, report.remaining) == (pending, 0, 0)
    assert recorded(store, run) == EXPECTED  # the same records as a live store would hold


def test_a_failing_step_fails_the_run_and_the_error_propagates(store: AimStore) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        PipelineRun("churn", store=store, run_id="r1") as run,
        run.step("train"),
    ):
        _ = 1 / 0
    step = Urn("step", ("python", "churn", "r1", "train"))
    attempts = store.get_aspect(step, "stepAttempts").value["attempts"]  # type: ignore[union-attr]
    assert [(a["state"], a["error"]) for a in attempts] == [
        ("failed", "ZeroDivisionError: division by zero")
    ]
    assert store.get_aspect(run.urn, "runInfo").value["status"] == "failed"  # type: ignore[union-attr]


def test_capture_off_records_nothing_and_spools_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_CAPTURE", "off")
    with PipelineRun("churn", run_id="r1") as run:  # the default store, in $AIMOPS_HOME
        churn_pipeline(run)  # the URNs are still returned
    assert run.outcomes == {}
    assert not (tmp_path / "home" / "aim.db").exists() and Spool().pending() == 0
    monkeypatch.delenv("AIMOPS_CAPTURE")
    with PipelineRun("churn", run_id="r2") as run:
        churn_pipeline(run)
    assert (tmp_path / "home" / "aim.db").exists()  # the same run, capture on, records


WRONG_INPUT: dict[str, Callable[[PipelineRun], object]] = {
    "a metric that is not a number": lambda r: _in_step(r, "log_metrics", {"auroc": "high"}),
    "a metric that is NaN": lambda r: _in_step(r, "log_metrics", {"auroc": float("nan")}),
    "a metric that is infinite": lambda r: _in_step(r, "log_metrics", {"auroc": float("inf")}),
    "a metric name with a NUL byte": lambda r: _in_step(r, "log_metrics", {"a\x00b": 1.0}),
    "a metric name too long to index": lambda r: _in_step(r, "log_metrics", {"m" * 300: 1.0}),
    "metrics that are not a mapping": lambda r: _in_step(r, "log_metrics", [("auroc", 1.0)]),
    "params that are not a mapping": lambda r: _in_step(r, "log_params", "lr=0.5"),
    "a data set with no name": lambda r: _in_step(r, "consumes_dataset", ""),
    "a data set with negative rows": lambda r: _in_step(r, "produces_dataset", "d", rows=-1),
    "an entity that is not a URN": lambda r: _in_step(r, "consumes", "customers-raw"),
    "a step name too long to store": lambda r: r.step("s" * 1100).__enter__(),
}


def _in_step(run: PipelineRun, verb: str, *args: object, **kwargs: object) -> None:
    with run.step("train") as step:
        getattr(step, verb)(*args, **kwargs)


@pytest.mark.parametrize("case", sorted(WRONG_INPUT))
def test_wrong_input_raises_at_once_and_writes_nothing_of_it(store: AimStore, case: str) -> None:
    with pytest.raises(InvalidInputError), PipelineRun("churn", store=store, run_id="r1") as run:
        WRONG_INPUT[case](run)
    train = Urn("step", ("python", "churn", "r1", "train"))
    assert store.get_aspect(train, "metrics") is None
    assert store.get_aspect(train, "params") is None
    assert store.count("dataset") == 0
    assert store.get_aspect(run.urn, "runInfo").value["status"] == "failed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((AimStore, "churn"), "takes the pipeline's name first"),
        (("c" * 1100,), "at most 1024 characters"),
        ((b"churn",), "takes the pipeline's name first"),
    ],
)
def test_a_run_that_cannot_be_recorded_is_refused_when_made(
    arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        PipelineRun(*arguments)  # type: ignore[arg-type]

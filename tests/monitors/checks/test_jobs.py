"""The check jobs a notebook and an operator share: real GX, real Evidently, a real SQLite store.

One model version (churn/3) with registered reference data, and one keyed drift check of it
(with Evidently's report), are made once for the module; the other tests run their own checks
on the same store, under their own keys, on tiny frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.errors import CheckFailedError, InvalidDataError, InvalidInputError, NotFoundError
from aimops.metadata import AimStore
from aimops.metadata.urns import Urn, dataset_urn
from aimops.monitors.checks.jobs import (
    CheckOutcome,
    run_data_quality,
    run_drift,
    run_feature_consistency,
    run_health,
)
from aimops.monitors.checks.recording import list_checks
from aimops.monitors.checks.reference_data import register_reference
from aimops.monitors.checks.registry import describe_failure

VERSION = "urn:aim:modelVersion:churn/3"
DEPLOYMENT = "urn:aim:deployment:churn-prod"
RNG = np.random.default_rng(7)
#: What churn/3 was trained on: a number and a category.
REFERENCE = pd.DataFrame({"age": RNG.normal(40, 5, 40).round(1), "plan": ["a", "b"] * 20})
#: Served data: the ages moved, the plans did not; a request column the reference lacks.
CURRENT = pd.DataFrame(
    {
        "age": RNG.normal(55, 5, 40).round(1),
        "plan": ["b", "a"] * 20,
        "request_id": [f"r{n}" for n in range(40)],
    }
)


@dataclass
class World:
    """The store, where files go, the served data as a Parquet file and the keyed check."""

    store: AimStore
    folder: Path
    current_file: Path
    drift: CheckOutcome

    @property
    def reports(self) -> Path:
        return self.folder / "reports"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("check-jobs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIMOPS_HOME", str(folder / "home"))
        store = AimStore.open(f"sqlite:///{folder / 'aim.db'}")
        aimops.record_model_version(store, "churn", 3)
        register_reference(store, VERSION, REFERENCE)
    current_file = folder / "served.parquet"
    CURRENT.to_parquet(current_file)
    drift = run_drift(
        store,
        str(current_file),
        model_version="churn/3",
        targets=[DEPLOYMENT],
        key="nightly/churn/drift",
        evidently_report=True,
        report_dir=folder / "reports",
    )
    yield World(store, folder, current_file, drift)
    store.close()


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*") if path.is_file())


# -- drift -----------------------------------------------------------------------------------


def test_drift_is_checked_against_the_reference_registered_for_the_version(world: World) -> None:
    from scipy.stats import ks_2samp

    store, outcome = world.store, world.drift
    assert str(outcome.urn) == "urn:aim:check:nightly/churn/drift"
    info = store.get_aspect(outcome.urn, "checkInfo").value
    served = dataset_urn(world.current_file.resolve().as_uri())
    assert info["targets"] == [VERSION, str(served), DEPLOYMENT]
    assert (info["kind"], info["status"]) == ("drift", "fail")
    document = store.get_aspect(outcome.urn, "checkResult").value["document"]
    assert document == outcome.result.to_dict()
    # the reference's columns, not the request log's own
    assert list(document["columns"]) == ["age", "plan"]
    assert (document["n_reference"], document["n_current"]) == (40, 40)
    age = ks_2samp(REFERENCE["age"], CURRENT["age"]).pvalue
    assert document["columns"]["age"]["score"] == pytest.approx(age, rel=1e-9)
    assert describe_failure(outcome.result) == (
        f"drift in 1 of 2 columns (share 0.5 >= 0.5): age (ks {age:.3g} <= 0.05)"
    )
    listed = {check["urn"]: check for check in list_checks(store, model="churn", kind="drift")}
    assert listed[str(outcome.urn)]["status"] == "fail"
    assert listed[str(outcome.urn)]["created_at"] == info["checked_at"]
    for target in (VERSION, served, DEPLOYMENT):  # a check of each, with its numbers
        assert str(outcome.urn) in {e.urn for e in store.related(target, "checks", incoming=True)}
        (point,) = store.get_points(target, "check.drift.drift_share")
        assert point.value == 0.5


def test_the_check_page_and_evidently_s_report_are_saved_and_recorded(world: World) -> None:
    outcome = world.drift
    # named by the key and a hash of the URN (two checks never share a file)
    page = world.reports / "check-nightly-churn-drift-c9f710c6.html"
    evidently = world.reports / "check-nightly-churn-drift-c9f710c6-evidently.html"
    assert outcome.reports == {"evidently": evidently, "check": page}
    assert _files(world.reports) == sorted([page.name, evidently.name])
    info = world.store.get_aspect(outcome.urn, "checkInfo").value
    assert info["reports"] == {"check": page.as_uri(), "evidently": evidently.as_uri()}
    text = page.read_text()
    assert '<span class="badge status-fail">fail</span>' in text
    assert '<tr class="row-fail"><td>age</td>' in text
    assert f'<a href="{evidently.name}" rel="noopener noreferrer">Evidently report</a>' in text
    assert info["checked_at"][:19] in text  # when it was checked, as recorded
    # Evidently's own report of the same data: its scripts and its verdict
    saved = evidently.read_text()
    assert "<script>" in saved and "var metric_" in saved
    assert "Drift is detected for 50.0% of columns (1 out of 2)." in saved


def test_running_the_same_check_again_adds_nothing(world: World) -> None:
    store, first = world.store, world.drift
    before = store.get_aspect(first.urn, "checkInfo").value
    history = len(store.history(first.urn))
    again = run_drift(
        store,
        str(world.current_file),
        model_version="churn/3",
        targets=[DEPLOYMENT],
        key="nightly/churn/drift",
        evidently_report=True,
        report_dir=world.reports,
    )
    assert again.urn == first.urn and again.reports == first.reports
    assert store.get_aspect(first.urn, "checkInfo").value == before  # same checked_at
    assert len(store.history(first.urn)) == history
    for target in (VERSION, DEPLOYMENT):
        assert len(store.get_points(target, "check.drift.drift_share")) == 1
        assert len(store.get_points(target, "check.drift.drift.age")) == 1


def test_checks_without_a_key_keep_their_own_evidently_report(world: World) -> None:
    folder = world.folder / "unkeyed"
    moved = CURRENT.assign(plan=["a"] * 35 + ["b"] * 5)  # now both columns drifted
    outcomes = [
        run_drift(
            world.store, current, reference=REFERENCE, evidently_report=True, report_dir=folder
        )
        for current in (CURRENT, moved)
    ]
    assert outcomes[0].urn != outcomes[1].urn  # fingerprints of different results
    assert outcomes[0].reports["evidently"] != outcomes[1].reports["evidently"]
    assert len(_files(folder)) == 4
    for outcome, verdict in zip(
        outcomes, ("50.0% of columns (1 out of 2)", "100.0% of columns (2 out of 2)"), strict=True
    ):
        info = world.store.get_aspect(outcome.urn, "checkInfo").value
        assert info["reports"]["evidently"] == outcome.reports["evidently"].as_uri()
        assert f"Drift is detected for {verdict}." in outcome.reports["evidently"].read_text()


def test_no_report_dir_writes_no_file(world: World, tmp_path: Path) -> None:
    outcome = run_drift(
        world.store, CURRENT, reference=REFERENCE, key="adhoc/quiet", evidently_report=True,
        report_dir=None,
    )  # fmt: skip
    assert outcome.reports == {} and _files(tmp_path) == []  # AIMOPS_HOME is in tmp_path
    assert world.store.get_aspect(outcome.urn, "checkInfo").value["reports"] == {}
    assert outcome.status == "fail"  # and the check was still made and recorded
    assert str(outcome.urn) in {check["urn"] for check in list_checks(world.store)}


def test_the_default_report_dir_is_the_home_s_reports(world: World, tmp_path: Path) -> None:
    # conftest points AIMOPS_HOME at tmp_path / "home" for each test
    outcome = run_drift(world.store, CURRENT, reference=REFERENCE, key="adhoc/default")
    assert outcome.reports == {
        "check": tmp_path / "home" / "reports" / "check-adhoc-default-fe10dc22.html"
    }
    assert outcome.reports["check"].is_file()


def test_columns_chooses_what_is_compared(world: World) -> None:
    outcome = run_drift(
        world.store, CURRENT, model_version="churn/3", columns=["plan"], key="adhoc/plan",
        report_dir=None,
    )  # fmt: skip
    assert list(outcome.result.to_dict()["columns"]) == ["plan"]
    assert outcome.status == "pass"
    assert describe_failure(outcome.result) == "drift in 0 of 1 column (share 0 < 0.5); status pass"


def test_a_current_table_without_a_reference_column_is_refused_and_nothing_recorded(
    world: World, tmp_path: Path
) -> None:
    checks = len(list_checks(world.store, limit=1000))
    with pytest.raises(InvalidDataError, match=r"^the current data lacks column\(s\) \['plan'\]$"):
        run_drift(
            world.store, CURRENT.drop(columns="plan"), model_version="churn/3",
            key="adhoc/lacking", evidently_report=True, report_dir=tmp_path / "r",
        )  # fmt: skip
    with pytest.raises(
        InvalidDataError, match=r"the reference data lacks column\(s\) \['tenure'\]"
    ):
        run_drift(world.store, CURRENT, model_version="churn/3", columns=["age", "tenure"])
    assert len(list_checks(world.store, limit=1000)) == checks
    assert world.store.get_entity("urn:aim:check:adhoc/lacking") is None
    assert not (tmp_path / "r").exists()


def test_without_reference_data_drift_and_consistency_say_what_to_give(world: World) -> None:
    with pytest.raises(InvalidInputError, match=r"^give the reference data, or a model_version"):
        run_drift(world.store, CURRENT)
    with pytest.raises(InvalidInputError, match=r"^give the training data, or a model_version"):
        run_feature_consistency(world.store, CURRENT)
    aimops.record_model_version(world.store, "churn", 4)
    for job in (run_drift, run_feature_consistency):
        with pytest.raises(NotFoundError, match="no reference data is registered for model "
                           "version urn:aim:modelVersion:churn/4"):  # fmt: skip
            job(world.store, CURRENT, model_version="churn/4")


# -- how a failure is put in words -----------------------------------------------------------


def test_a_drift_failure_names_each_drifted_column_with_its_rule() -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import norm

    store = aimops.connect("sqlite://")
    moved = CURRENT.assign(plan=["a"] * 35 + ["b"] * 5)
    z_test = run_drift(store, moved, reference=REFERENCE, columns=["plan"], report_dir=None)
    # the two-proportion z-test of the share of "b" (all but the smallest value)
    ref_b, cur_b = 0.5, 5 / 40
    pooled = (ref_b * 40 + cur_b * 40) / 80
    z = (ref_b - cur_b) / np.sqrt(pooled * (1 - pooled) * (2 / 40))
    p_value = 2 * (1 - norm.cdf(abs(z)))
    assert describe_failure(z_test.result) == (
        f"drift in 1 of 1 column (share 1 >= 0.5): plan (z {p_value:.3g} < 0.05)"
    )
    distance = run_drift(
        store, moved, reference=REFERENCE, columns=["plan"], methods={"plan": "jensenshannon"},
        report_dir=None,
    )  # fmt: skip
    score = jensenshannon([0.5, 0.5], [35 / 40, 5 / 40])
    assert describe_failure(distance.result) == (
        f"drift in 1 of 1 column (share 1 >= 0.5): plan (jensenshannon {score:.3g} >= 0.1)"
    )
    warned = run_drift(store, CURRENT, reference=REFERENCE, drift_share=0.6, report_dir=None)
    assert warned.status == "warn"
    assert describe_failure(warned.result).startswith(
        "drift in 1 of 2 columns (share 0.5 < 0.6): age (ks "
    )


def test_raise_for_status_raises_only_for_the_statuses_asked(world: World) -> None:
    outcome = world.drift
    with pytest.raises(CheckFailedError) as raised:
        outcome.raise_for_status()
    assert str(raised.value) == (
        f"{describe_failure(outcome.result)} [urn:aim:check:nightly/churn/drift]"
    )
    outcome.raise_for_status(fail_on=("inconclusive",))  # a failure it was not asked about
    passed = run_drift(world.store, CURRENT, model_version="churn/3", columns=["plan"],
                       report_dir=None)  # fmt: skip
    passed.raise_for_status(fail_on=("warn", "fail", "inconclusive"))
    with pytest.raises(CheckFailedError, match=r"^drift in 0 of 1 column .*\[urn:aim:check:drift/"):
        passed.raise_for_status(fail_on=("pass",))


# -- data quality ----------------------------------------------------------------------------


def test_data_quality_of_a_csv_file_names_what_was_not_met(world: World, tmp_path: Path) -> None:
    table = tmp_path / "signups.csv"
    table.write_text("id,age,plan\n1,34,a\n2,51,b\n2,130,z\n4,150,a\n")
    suite = [
        {"expect": "unique", "column": "id"},
        {"expect": "between", "column": "age", "min": 0, "max": 120, "severity": "warn"},
        {"expect": "not_null", "column": "age"},
        {"expect": "in_set", "column": "plan", "values": ["a", "b"]},
        {"expect": "mean_between", "column": "age", "max": 50},
    ]
    outcome = run_data_quality(
        world.store, str(table), suite, model_version=VERSION, targets=[DEPLOYMENT],
        name="signups", key="quality/signups", report_dir=tmp_path / "reports",
    )  # fmt: skip
    assert outcome.status == "fail"
    info = world.store.get_aspect(outcome.urn, "checkInfo").value
    data = dataset_urn(table.resolve().as_uri())
    assert info["targets"] == [VERSION, str(data), DEPLOYMENT]
    assert (info["kind"], info["name"]) == ("data_quality", "signups")
    assert info["reports"] == {
        "check": (tmp_path / "reports" / "check-quality-signups-8b7d72ea.html").as_uri()
    }
    assert "signups" in outcome.reports["check"].read_text()
    assert describe_failure(outcome.result) == (
        "data quality: 4 of 5 expectations not met: id is unique [error]: 2 unexpected "
        "(e.g. 2, 2); age between 0 and 120 [warn]: 2 unexpected (e.g. 130, 150); "
        "plan in ['a', 'b'] [error]: 1 unexpected (e.g. 'z'); "
        "mean of age at most 50 [error]: observed 91.25"
    )
    (point,) = world.store.get_points(data, "check.data_quality.failed")
    assert point.value == 4


# -- feature consistency ---------------------------------------------------------------------


def test_feature_consistency_defaults_to_the_registered_reference(world: World) -> None:
    serving = REFERENCE.assign(plan=["a"] * 30 + ["b"] * 10)
    outcome = run_feature_consistency(
        world.store, serving, model_version="churn/3", key="skew/churn", report_dir=None
    )
    assert list(outcome.result.to_dict()["features"]) == ["age", "plan"]
    assert outcome.status == "fail"
    shares = pd.concat(
        [
            REFERENCE["plan"].value_counts(normalize=True),
            serving["plan"].value_counts(normalize=True),
        ],
        axis=1,
    ).fillna(0)
    linf = (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max()
    assert describe_failure(outcome.result) == (
        f"training/serving skew in 1 of 2 features: plan (linf {linf:.3g} > 0.1)"
    )
    assert world.store.get_aspect(outcome.urn, "checkInfo").value["targets"] == [VERSION]


def test_a_feature_skewed_by_its_match_rate_alone_is_not_said_to_exceed_its_threshold() -> None:
    store = aimops.connect("sqlite://")
    training = pd.DataFrame({"user": range(10), "x": [float(n) for n in range(10)]})
    serving = training.assign(x=[1.0, 0.0, *range(2, 10)])  # same values, two rows swapped
    outcome = run_feature_consistency(
        store, serving, training=training, entity_key="user", report_dir=None
    )
    assert outcome.status == "fail"
    assert describe_failure(outcome.result) == (
        "training/serving skew in 1 of 1 features: x (jensenshannon 0 <= 0.1, match rate 0.8)"
    )


# -- health ----------------------------------------------------------------------------------


def _request_log() -> pd.DataFrame:
    """churn/3 served 10:00-10:59 (60 requests, 3 failed, two slow), churn/4 all morning."""
    three = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-11-26 10:00", periods=60, freq="min"),
            "model_version": "churn/3",
            "latency_ms": [20.0] * 58 + [900.0, 950.0],
            "status": [200] * 57 + [500] * 3,
        }
    )
    four = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-11-26 08:00", periods=240, freq="min"),
            "model_version": "churn/4",
            "latency_ms": 30.0,
            "status": 200,
        }
    )
    return pd.concat([four, three]).sort_values("timestamp", kind="stable")


def test_health_of_a_version_reads_its_rows_and_their_time_window(world: World) -> None:
    log = _request_log()
    outcome = run_health(
        world.store, log, model_version="churn/3", min_requests=50, key="health/churn/3",
        report_dir=None,
    )  # fmt: skip
    assert list(outcome.result.to_dict()["versions"]) == ["churn/3"]
    assert outcome.result.metrics["requests"] == 60
    assert outcome.window == (
        datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 10, 59, tzinfo=UTC),
    )
    p99 = np.percentile([20.0] * 58 + [900.0, 950.0], 99)
    assert describe_failure(outcome.result) == (
        f"service health: churn/3: success rate 95.00% < 99.00%; p99 latency {p99:.0f} ms > 500 ms"
    )
    assert world.store.get_aspect(outcome.urn, "checkInfo").value["targets"] == [VERSION]
    # served under another name: its rows are the ones served_as names
    renamed = log.replace({"model_version": {"churn/3": "churn-blue"}})
    blue = run_health(
        world.store, renamed, model_version="churn/3", served_as="churn-blue", min_requests=50,
        report_dir=None,
    )  # fmt: skip
    assert list(blue.result.to_dict()["versions"]) == ["churn-blue"]
    assert blue.window == outcome.window
    # every version, over the whole log
    everyone = run_health(world.store, log, min_requests=50, report_dir=None)
    assert sorted(everyone.result.to_dict()["versions"]) == ["churn/3", "churn/4"]
    assert everyone.window == (
        datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 11, 59, tzinfo=UTC),
    )


def test_an_inconclusive_version_is_said_to_have_too_few_requests(world: World) -> None:
    outcome = run_health(world.store, _request_log(), model_version="churn/3", report_dir=None)
    assert outcome.status == "inconclusive"
    outcome.raise_for_status()  # not a failure by default
    with pytest.raises(CheckFailedError) as raised:
        outcome.raise_for_status(fail_on=("fail", "inconclusive"))
    p99 = np.percentile([20.0] * 58 + [900.0, 950.0], 99)
    assert str(raised.value) == (
        "service health: churn/3: 60 requests, fewer than 100; success rate 95.00% < 99.00%; "
        f"p99 latency {p99:.0f} ms > 500 ms [{outcome.urn}]"
    )
    healthy = _request_log().query("model_version == 'churn/4'").head(20)
    few = run_health(world.store, healthy, report_dir=None)
    assert describe_failure(few.result) == "service health: churn/4: 20 requests, fewer than 100"


def test_a_request_log_file_is_a_target_and_its_parquet_round_trips(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "requests.parquet"
    _request_log().to_parquet(path)
    outcome = run_health(world.store, f"file://{path}", targets=[DEPLOYMENT], min_requests=50,
                         report_dir=None)  # fmt: skip
    info = world.store.get_aspect(outcome.urn, "checkInfo").value
    assert info["targets"] == [str(dataset_urn(path.resolve().as_uri())), DEPLOYMENT]
    assert Urn.parse(str(outcome.urn)).segments[0] == "health"


# -- the reports around the record -------------------------------------------------------------


def test_a_check_the_store_refuses_leaves_the_other_check_s_report_alone(world: World) -> None:
    report = world.drift.reports["evidently"]
    before = report.read_bytes()
    with pytest.raises(InvalidInputError, match="a check key names one check"):
        run_drift(  # the same key, other targets: refused
            world.store, CURRENT, reference=REFERENCE.assign(age=REFERENCE["age"] + 30),
            key="nightly/churn/drift", evidently_report=True, report_dir=world.reports,
        )  # fmt: skip
    assert report.read_bytes() == before
    assert not [name for name in _files(world.reports) if name.startswith(".")]  # no leftovers


def test_a_page_that_cannot_be_written_leaves_the_verdict_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be")
    outcome = run_drift(
        store, CURRENT, reference=REFERENCE, key="blocked/drift", report_dir=blocked
    )
    assert outcome.status == "fail" and outcome.reports == {}
    info = store.get_aspect(outcome.urn, "checkInfo")
    assert info is not None and info.value["status"] == "fail"
    assert "is recorded, but its page could not be written" in caplog.text
    store.close()


def test_evidently_s_report_judges_with_the_check_s_settings(tmp_path: Path) -> None:
    store = AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    outcome = run_drift(
        store, CURRENT, reference=REFERENCE, columns=["age", "plan"], key="tuned",
        methods={"plan": "jensenshannon"}, thresholds={"age": 0.2}, drift_share=0.3,
        evidently_report=True, report_dir=tmp_path,
    )  # fmt: skip
    assert outcome.result.columns["plan"].method == "jensenshannon"  # type: ignore[attr-defined]
    report = outcome.reports["evidently"].read_text()
    assert "Jensen-Shannon distance" in report  # Evidently's name of the method it was told
    assert "0.3" in report
    store.close()

"""``aimops compare`` and ``aimops evaluations`` through the installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aimops
from aimops.monitors.evaluation.jobs import Columns, compare_models, evaluate_model

AIMOPS = str(Path(sys.executable).with_name("aimops"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIMOPS, *args], capture_output=True, text=True, timeout=60, check=False)


def ok_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def evaluate_and_compare(store: aimops.AimStore, scored: Path) -> None:
    """Evaluate churn/1 (column v1) and churn/2 (v2) on ``scored``, then compare them."""
    for version in ("1", "2"):
        evaluate_model(
            store, model_version=f"churn/{version}", predictions=scored,
            columns=Columns(score=f"v{version}"), key=f"eval/{version}", report_dir=None,
        )  # fmt: skip
    compare_models(
        store, model_versions=["churn/1", "churn/2"], predictions=scored,
        score_columns={"churn/1": "v1", "churn/2": "v2"}, n_bootstrap=100, key="cmp",
        report_dir=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("compare")
    url = f"sqlite:///{folder / 'aim.db'}"
    store = aimops.connect(url)
    for version in ("1", "2"):
        aimops.record_model_version(store, "churn", version)
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    table = pd.DataFrame(
        {
            "label": y,
            "v1": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 300), 0, 1),
            "v2": np.clip(0.4 + 0.2 * y + rng.normal(0, 0.2, 300), 0, 1),
        }
    )
    scored = folder / "scored.csv"
    table.to_csv(scored, index=False)
    evaluate_and_compare(store, scored)
    store.close()
    return url


def test_compare_two_evaluations_shows_deltas_and_winners(store_url: str) -> None:
    found = ok_json("compare", "urn:aim:evaluation:eval/1", "urn:aim:evaluation:eval/2",
                    "--store", store_url)  # fmt: skip
    assert found["baseline"] == "churn/1"
    auroc = next(d for d in found["deltas"] if d["metric"] == "auroc")
    values = {e["label"]: e["metrics"]["auroc"] for e in found["evaluations"]}
    assert auroc["delta"] == pytest.approx(values["churn/2"] - values["churn/1"])
    assert found["winners"]["auroc"] == "churn/1"
    # The store holds a paired comparison of the same versions on the same data: its
    # intervals come with it.
    assert auroc["ci_low"] is not None and auroc["method"] == "delong"


def test_compare_model_versions_as_a_table_and_an_html_report(
    store_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "compare.html"
    result = run("compare", "urn:aim:modelVersion:churn/1", "urn:aim:modelVersion:churn/2",
                 "--store", store_url, "--html", str(report))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"report: {report}"
    assert lines[2].split()[:4] == ["METRIC", "CHURN/1", "CHURN/2", "WINNER"]
    assert any(line.startswith("auroc") and line.endswith("churn/1") for line in lines)
    html = report.read_text()
    assert "churn/2" in html and "https://" not in html


def test_evaluations_list_and_show(store_url: str) -> None:
    listed = ok_json("evaluations", "list", "--store", store_url, "--model", "churn")
    assert {item["urn"] for item in listed} >= {
        "urn:aim:evaluation:eval/1", "urn:aim:evaluation:cmp",
    }  # fmt: skip
    shown = ok_json("evaluations", "show", "urn:aim:evaluation:eval/2", "--store", store_url)
    assert shown["model_version"] == "urn:aim:modelVersion:churn/2"


def test_unknown_urns_fail_with_one_line(store_url: str) -> None:
    result = run("compare", "urn:aim:evaluation:nope", "urn:aim:evaluation:eval/1",
                 "--store", store_url)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"aimops: error: no evaluation urn:aim:evaluation:nope in {store_url}"
    )
    result = run("compare", "urn:aim:dataset:x", "urn:aim:evaluation:eval/1", "--store", store_url)
    assert "is neither an evaluation nor a model version" in result.stderr


def test_a_comparison_on_too_few_rows_names_no_winner_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    store = aimops.connect(url)
    scored = tmp_path / "scored.csv"
    pd.DataFrame(
        {"label": [0, 1, 0, 1, 0, 0, 1, 0], "v1": np.linspace(0.1, 0.8, 8), "v2": [0.5] * 8}
    ).to_csv(scored, index=False)
    for version in ("1", "2"):
        aimops.record_model_version(store, "churn", version)
    evaluate_and_compare(store, scored)
    store.close()
    urns = ("urn:aim:evaluation:eval/1", "urn:aim:evaluation:eval/2", "--store", url)
    found = ok_json("compare", *urns)
    assert found["inconclusive"].startswith("inconclusive: 3 positive and 5 negative rows")
    assert set(found["winners"].values()) == {None}
    result = run("compare", *urns)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == f"no winners: {found['inconclusive']}"
    assert all(line.split()[-1] == "none" for line in lines[2:-1])  # the winner column

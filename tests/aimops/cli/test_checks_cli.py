"""``aimops checks list`` and ``aimops metrics`` through the installed entry point."""

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
from aimops.monitors import check_drift

AIMOPS = str(Path(sys.executable).with_name("aimops"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIMOPS, *args], capture_output=True, text=True, timeout=60, check=False)


def ok_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('checks') / 'aim.db'}"
    store = aimops.connect(url)
    version = aimops.record_model_version(store, "churn", "3")
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 1500)})
    for day, shift in enumerate((0.0, 2.0)):
        current = pd.DataFrame({"x": rng.normal(shift, 1, 1500)})
        check_drift(reference, current).record(store, target=version, key=f"nightly/{day}")
    store.close()
    return url


def test_checks_list_json_has_what_a_machine_needs(store_url: str) -> None:
    found = ok_json("checks", "list", "--store", store_url, "--model", "churn")
    assert [c["urn"] for c in found] == ["urn:aim:check:nightly/1", "urn:aim:check:nightly/0"]
    assert [c["status"] for c in found] == ["fail", "pass"]
    for check in found:
        assert {"urn", "kind", "status", "target", "created_at"} <= set(check)
        assert check["kind"] == "drift" and check["target"] == "urn:aim:modelVersion:churn/3"
    assert ok_json("checks", "list", "--store", store_url, "--kind", "health") == []


def test_metrics_prints_the_time_series_of_a_target(store_url: str) -> None:
    points = ok_json("metrics", "urn:aim:modelVersion:churn/3", "check.drift.drift_share",
                     "--store", store_url, "--since", "1d")  # fmt: skip
    assert [p["value"] for p in points] == [0.0, 1.0]
    assert ok_json("metrics", "urn:aim:modelVersion:churn/3", "check.drift.drift_share",
                   "--store", store_url, "--since", "2999-01-01") == []  # fmt: skip
    bad = run("metrics", "urn:aim:modelVersion:churn/3", "x", "--store", store_url,
              "--since", "yesterday")  # fmt: skip
    assert bad.returncode == 2 and "neither an ISO date/time nor a span" in bad.stderr

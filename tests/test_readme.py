"""The README's Python examples run as written (in a fresh AIMOPS_HOME)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write files (a report) where they run
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no Python example"
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    store = namespace["store"]
    assert store.get_entity("urn:aim:modelVersion:churn/1") is not None  # type: ignore[attr-defined]
    runs = store.search("run")  # type: ignore[attr-defined]
    prefect_runs = [e.urn for e in runs if ":prefect/features/" in e.urn]
    assert len(prefect_runs) == 1, "the Prefect example's run was not captured"
    steps = store.related(prefect_runs[0], "partOf", incoming=True)  # type: ignore[attr-defined]
    assert [e.urn.rsplit("/", 1)[1] for e in steps] == ["prepare"]
    evaluation = str(namespace["evaluation"])  # section 11: aimops' Prefect task recorded it
    assert evaluation.startswith("urn:aim:evaluation:prefect/nightly-evaluation/")
    assert store.related(evaluation, "evaluates")[0].urn == "urn:aim:modelVersion:churn/1"  # type: ignore[attr-defined]

"""Prefect flows run for real (under the session's ``prefect_test_harness``), captured into a
fresh AIM store per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aimops.metadata.store import AimStore


@pytest.fixture
def aim_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> Iterator[Path]:
    """A fresh AIMOPS_HOME (the embedded store and the spool), capture on."""
    from aimops.flows.capture.tracked import reset_capture

    home = tmp_path / "aimops"
    monkeypatch.setenv("AIMOPS_HOME", str(home))
    monkeypatch.delenv("AIMOPS_STORE_URL", raising=False)
    monkeypatch.delenv("AIMOPS_CAPTURE", raising=False)
    reset_capture()
    yield home
    reset_capture()


@pytest.fixture
def store(aim_home: Path) -> Callable[[], AimStore]:
    """Opens the store the test's flows were captured into."""
    return lambda: AimStore.open(f"sqlite:///{aim_home / 'aim.db'}")


class Reader:
    """What the store holds of a run, the way a user reads it."""

    @staticmethod
    def steps(store: AimStore, run: str) -> dict[str, dict[str, Any]]:
        """Each step of ``run`` (by the URN's part after the run) with its info and tries."""
        found = {}
        for entity in store.related(run, "partOf", incoming=True):
            if entity.type != "step":
                continue
            tries = store.get_aspect(entity.urn, "stepAttempts")
            found[entity.urn.split(f"{run.split(':', 3)[3]}/", 1)[1]] = {
                "info": store.get_aspect(entity.urn, "stepInfo").value,
                "tries": tries.value["attempts"] if tries else [],
                "consumed": sorted(e.urn for e in store.related(entity.urn, "consumed")),
                "produced": sorted(e.urn for e in store.related(entity.urn, "produced")),
                "made": sorted(
                    e.urn for e in store.related(entity.urn, "producedBy", incoming=True)
                ),
            }
        return found

    @staticmethod
    def only_run(store: AimStore, flow_name: str) -> str:
        runs = [e.urn for e in store.search("run") if f":prefect/{flow_name}/" in e.urn]
        assert len(runs) == 1, runs
        return runs[0]


@pytest.fixture(scope="session")
def read() -> type[Reader]:
    return Reader

"""A store with published versions of ``churn``, a file router and request logs on demand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aimops.metadata.lifecycle.routers import FileRouter
from aimops.metadata.recording import record_model_version
from aimops.metadata.store import AimStore

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class World:
    store: AimStore
    router: FileRouter
    home: Path

    def publish(self, *numbers: int, model: str = "churn") -> None:
        for number in numbers:
            record_model_version(self.store, model, number)
            self.store.put_aspect(
                f"urn:aim:modelVersion:{model}/{number}",
                "lifecycle",
                {"state": "published", "transition": "publish", "previous": "publishable",
                 "actor": "ana", "at": T0},
            )  # fmt: skip

    def served(
        self,
        split: dict[str, int],
        *,
        start: dt.datetime = T0,
        seconds: float = 600.0,
        latency_ms: dict[str, float] | None = None,
        errors: dict[str, float] | None = None,
        model: str = "churn",
    ) -> pd.DataFrame:
        """``split[v]`` requests to each version over the window, 40 ms unless slowed."""
        frames = []
        rng = np.random.default_rng(0)
        for version, count in split.items():
            latency = (latency_ms or {}).get(version, 40.0)
            failed = rng.random(count) < (errors or {}).get(version, 0.0)
            frames.append(pd.DataFrame({
                "timestamp": start + pd.to_timedelta(rng.random(count) * seconds, unit="s"),
                "model_version": f"{model}/{version}",
                "latency_ms": rng.normal(latency, latency / 10, count).clip(1),
                "status": np.where(failed, 500, 200),
            }))  # fmt: skip
        return pd.concat(frames, ignore_index=True)

    def traffic(self, model: str = "churn") -> dict[str, Any]:
        state = self.router.current(model, "production")
        assert state is not None
        return state.to_dict()

    def options(self, **more: Any) -> dict[str, Any]:
        return {"router": self.router, "mlflow": False, **more}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AIMOPS_HOME", str(tmp_path))
    monkeypatch.setenv("AIMOPS_ALERT_LOG", str(tmp_path / "alerts.log"))
    monkeypatch.delenv("AIMOPS_ALERT_WEBHOOK", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}") as store:
        yield World(store, FileRouter(tmp_path / "traffic"), tmp_path)

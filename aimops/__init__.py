"""aimops: an AI-metadata store and the model lifecycle inside Apache Airflow and Prefect.

The facade a notebook or a plain Python pipeline needs::

    >>> import aimops
    >>> store = aimops.connect("sqlite://")
    >>> run = aimops.record_run(store, orchestrator="python", pipeline="demo", run_id="1")
    >>> str(run)
    'urn:aim:run:python/demo/1'
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aimops.errors import AimopsError
from aimops.metadata.recording import (
    record_artifact,
    record_attempt,
    record_dataset,
    record_io,
    record_model_version,
    record_pipeline,
    record_run,
    record_step,
)
from aimops.metadata.store import AimStore
from aimops.metadata.tracking import PipelineRun
from aimops.metadata.urns import Urn

try:
    __version__ = version("aimops")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def connect(url: str | None = None, *, actor: str | None = None) -> AimStore:
    """Open the AIM store: ``url``, else ``AIMOPS_STORE_URL``, else ``$AIMOPS_HOME/aim.db``."""
    return AimStore.open(url, actor=actor)


__all__ = [
    "AimStore",
    "AimopsError",
    "PipelineRun",
    "Urn",
    "__version__",
    "connect",
    "record_artifact",
    "record_attempt",
    "record_dataset",
    "record_io",
    "record_model_version",
    "record_pipeline",
    "record_run",
    "record_step",
]

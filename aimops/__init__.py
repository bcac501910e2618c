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
from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
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
    from aimops.metadata.references import artifact_ref, dataset_ref, model_version_ref
    from aimops.metadata.store import AimStore
    from aimops.metadata.tracking import PipelineRun
    from aimops.metadata.urns import Urn

try:
    __version__ = version("aimops")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

# Loaded on first use, so that a DAG file or Airflow's provider discovery that imports
# ``aimops`` pays for the store (SQLAlchemy, pydantic) only when it uses it.
_LAZY = {
    "AimopsError": "aimops.errors",
    "AimStore": "aimops.metadata.store",
    "PipelineRun": "aimops.metadata.tracking",
    "Urn": "aimops.metadata.urns",
    "artifact_ref": "aimops.metadata.references",
    "dataset_ref": "aimops.metadata.references",
    "model_version_ref": "aimops.metadata.references",
    **{
        name: "aimops.metadata.recording"
        for name in (
            "record_artifact",
            "record_attempt",
            "record_dataset",
            "record_io",
            "record_model_version",
            "record_pipeline",
            "record_run",
            "record_step",
        )
    },
}


__getattr__ = lazy_attributes("aimops", _LAZY)


def connect(url: str | None = None, *, actor: str | None = None) -> AimStore:
    """Open the AIM store: ``url``, else ``AIMOPS_STORE_URL``, else ``$AIMOPS_HOME/aim.db``."""
    from aimops.metadata.store import AimStore

    return AimStore.open(url, actor=actor)


__all__ = [
    "AimStore",
    "AimopsError",
    "PipelineRun",
    "Urn",
    "__version__",
    "artifact_ref",
    "connect",
    "dataset_ref",
    "model_version_ref",
    "record_artifact",
    "record_attempt",
    "record_dataset",
    "record_io",
    "record_model_version",
    "record_pipeline",
    "record_run",
    "record_step",
]

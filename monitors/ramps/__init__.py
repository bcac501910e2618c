"""Ramps and de-ramps as orchestrated jobs: weights step by step, each step analysed.

:mod:`~aimops.monitors.ramps.engine` runs a ramp (start, advance, resume, abort, status),
:mod:`~aimops.monitors.ramps.analysis` judges a step's window, :mod:`~aimops.monitors.ramps.gates`
holds its limits, and :mod:`~aimops.monitors.ramps.jobs` is what the Airflow operators, the
Prefect tasks and the CLI run. The deployment's traffic, the router and the de-ramp itself are
the store's (:mod:`aimops.metadata.lifecycle`).
"""

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.monitors.ramps.engine import (
        RampReport,
        abort_ramp,
        advance_ramp,
        ramp_status,
        resume_ramp,
        start_ramp,
    )
    from aimops.monitors.ramps.gates import RampGates
    from aimops.monitors.ramps.jobs import run_ramp_action

_ENGINE = "aimops.monitors.ramps.engine"
_LAZY = {
    "RampReport": _ENGINE,
    "abort_ramp": _ENGINE,
    "advance_ramp": _ENGINE,
    "ramp_status": _ENGINE,
    "resume_ramp": _ENGINE,
    "start_ramp": _ENGINE,
    "RampGates": "aimops.monitors.ramps.gates",
    "run_ramp_action": "aimops.monitors.ramps.jobs",
}

__getattr__ = lazy_attributes("aimops.monitors.ramps", _LAZY)

__all__ = [
    "RampGates",
    "RampReport",
    "abort_ramp",
    "advance_ramp",
    "ramp_status",
    "resume_ramp",
    "run_ramp_action",
    "start_ramp",
]

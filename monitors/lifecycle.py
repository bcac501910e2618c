"""A lifecycle transition as a job: move the model version, then rewrite its page.

What the Airflow operators, the Prefect tasks and the CLI run, so each surface only parses
its arguments and says how the job ended (:mod:`aimops.tasks`). The transition itself, its
guards and the MLflow mirror are :func:`aimops.metadata.lifecycle.transition`'s.

Example:
    >>> import tempfile
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> done = run_transition(store, version, "deprecate", reason="unused", mlflow=False,
    ...                       report_dir=tempfile.mkdtemp())
    >>> done["state"], done["page"].endswith(".html")
    ('deprecated', True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.metadata.urns import Urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

log = logging.getLogger(__name__)


def run_transition(
    store: AimStore,
    version: Any,
    action: str,
    *,
    actor: str | None = None,
    reason: str | None = None,
    origin: Mapping[str, Any] | None = None,
    policy: Any = None,
    mlflow: Any = True,
    report_dir: str | os.PathLike[str] | None = "default",
    force: bool = False,
    router: Any = None,
) -> dict[str, Any]:
    """Apply ``action`` to ``version`` (see :func:`aimops.metadata.lifecycle.transition`) and
    write the version's page under ``report_dir`` (None: no page); returns what happened as
    JSON-ready data, with ``page`` the page's path (None when it could not be written: the
    transition stands, and the failure is logged). ``force`` and ``router``: a deprecation's
    de-ramp (see :func:`~aimops.metadata.lifecycle.transition`)."""
    from aimops.metadata.lifecycle import transition
    from aimops.monitors.reports.model_version_page import write_model_version_page

    outcome = transition(
        store, version, action, actor=actor, reason=reason, origin=origin, policy=policy,
        mlflow=mlflow, force=force, router=router,
    )  # fmt: skip
    if outcome.mlflow.startswith("failed"):
        log.warning(
            "%s is %s, but MLflow's registry could not be updated (%s); run "
            "'aimops models sync %s' to bring it in line",
            outcome.label, outcome.state, outcome.mlflow, Urn.parse(outcome.urn).segments[0],
        )  # fmt: skip
    page = None
    if report_dir is not None:
        try:
            page = str(write_model_version_page(store, outcome.urn, report_dir))
        except (OSError, InvalidInputError) as exc:
            log.warning("%s is %s, but its page could not be written: %s", outcome.label,
                        outcome.state, exc)  # fmt: skip
    return {**outcome.to_dict(), "page": page}

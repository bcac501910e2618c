"""The page of a model version: its lifecycle state and history, evaluations and checks.

Written as a static file beside the other pages (:func:`write_model_version_page`) after every
transition, and rendered from the store by the Airflow plugin.

Example:
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> store = AimStore.open("sqlite://")
    >>> version = record_model_version(store, "churn", 1)
    >>> "registered" in render_model_version_page(store, version)
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops.monitors.reports import blocks
from aimops.monitors.reports.page import html_page, report_path, text_html, write_text_atomically

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn

_CSS = "body { font-family: sans-serif; margin: 2rem; } table { border-collapse: collapse; }"


def render_model_version_page(store: AimStore, version: Any) -> str:
    """The page of ``version`` as the store holds it now."""
    from aimops.metadata.lifecycle.queries import (
        label,
        lifecycle_history,
        lifecycle_state,
        version_urn,
    )

    urn = version_urn(version)
    state = lifecycle_state(store, urn)
    rows = [
        ("", (item["at"], item["transition"], item["state"], item["actor"],
              item.get("reason") or "", ", ".join(item.get("evidence", ()))))
        for item in lifecycle_history(store, urn)
    ]  # fmt: skip
    body = f"<h1>{text_html(label(urn))} · {text_html(state)}</h1>" + blocks.section(
        "Lifecycle history",
        blocks.table(["at", "transition", "state", "actor", "reason", "evidence"], rows),
    )
    return html_page(title=f"{label(urn)} · {state}", body=body, css=_CSS)


def write_model_version_page(
    store: AimStore, version: Any, report_dir: str | os.PathLike[str] = "default"
) -> Path:
    """Write the page of ``version`` under ``report_dir`` (``"default"``:
    ``$AIMOPS_HOME/reports``) in one step; returns its path."""
    from aimops.metadata.lifecycle.queries import version_urn

    urn: Urn = version_urn(version)
    return write_text_atomically(
        report_path(report_dir, urn), render_model_version_page(store, urn)
    )

"""What every evaluation result shares: headline metrics, a JSON form, recording, display.

A result is a frozen dataclass. ``metrics`` is a plain ``dict[str, float]``; ``to_dict()`` is
the JSON document that the store keeps, the report draws and ``--json`` prints. In a notebook
a result shows itself as the interactive report.

Example:
    >>> from aimops.monitors import evaluate_binary
    >>> result = evaluate_binary([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    >>> result.metrics["auroc"]
    1.0
    >>> result.to_dict()["kind"]
    'binary'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from aimops import validation

#: The metrics shown first wherever evaluations are summed up (logs, tables, comparisons).
HEADLINE_METRICS = ("auroc", "aupr", "log_loss", "brier", "accuracy", "f1", "rmse", "mae", "r2")

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import Urn


@dataclass(frozen=True)
class EvaluationResult:
    """Base of evaluation results: ``metrics`` plus the kind's own details."""

    kind: ClassVar[str] = "evaluation"
    metrics: dict[str, float]
    n: int
    weighted: bool = False
    label: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse what no result may hold: a metric that is not a finite number (a NaN would
        pass every gate's comparison unnoticed), a count that is not one, a label that is not
        storable text. Numbers are kept as plain Python ones (numpy's are not JSON)."""
        metrics = {
            name: validation.real_number(value, f"metric {name!r}")
            for name, value in validation.text_mapping(self.metrics, "metrics").items()
        }
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "n", validation.whole_number(self.n, "n", minimum=0))
        object.__setattr__(self, "weighted", validation.flag(self.weighted, "weighted"))
        validation.optional_text(self.label, "label")

    def details(self) -> dict[str, Any]:
        """The kind's own parts (curves, matrices, tables) as JSON-compatible data."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-compatible document."""
        return {
            "kind": self.kind,
            "label": self.label,
            "n": self.n,
            "weighted": self.weighted,
            "metrics": dict(self.metrics),
            **self.details(),
        }

    def labelled(self, label: str) -> Self:
        """The same result under another display name (a model version, say)."""
        return dataclasses.replace(self, label=label)

    def record(
        self,
        store: AimStore,
        *,
        model_version: str | Urn | None = None,
        dataset: str | Urn | None = None,
        key: str | None = None,
        producer: str | Urn | None = None,
    ) -> Urn:
        """Record this result as an ``evaluation`` entity
        (see :mod:`aimops.monitors.evaluation.recording`)."""
        from aimops.monitors.evaluation.recording import record_evaluation

        return record_evaluation(
            store, self, model_version=model_version, dataset=dataset, key=key, producer=producer
        )

    def _repr_html_(self) -> str:
        from aimops.monitors.reports.evaluation_page import notebook_html

        return notebook_html([self.to_dict()])


def rounded(metrics: Mapping[str, float | int | None]) -> dict[str, float]:
    """Metrics as plain floats, leaving out the ones that are undefined (None)."""
    return {name: float(value) for name, value in metrics.items() if value is not None}


def headline_names(metrics: Mapping[str, float], limit: int = 8) -> list[str]:
    """The names of ``metrics`` to show first: :data:`HEADLINE_METRICS` in their order, then
    the others as they come, at most ``limit`` of them."""
    names = [name for name in HEADLINE_METRICS if name in metrics]
    names += [name for name in metrics if name not in names]
    return names[:limit]


def headline(metrics: Mapping[str, float]) -> str:
    """``auroc=0.9977, aupr=...``: the headline metrics first, at most eight, in one line for a
    task's log.

    Example:
        >>> headline({"r2": 0.5, "rmse": 1.25})
        'rmse=1.25, r2=0.5'
        >>> headline({})
        'no metrics'
    """
    return ", ".join(f"{name}={metrics[name]:.4g}" for name in headline_names(metrics)) or (
        "no metrics"
    )

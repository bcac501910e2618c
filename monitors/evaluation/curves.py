"""ROC and precision-recall curves, kept to a bounded number of points for storage and charts.

A curve over ten million scored rows has up to ten million points. The areas (AUROC, AUPR)
are always computed on the full curve; what is stored and drawn keeps at most ``max_points``
points, chosen at even steps of rank and of each axis' running sum (true and false positives
for ROC, true positives for PR), so that consecutive kept points are close on every axis and
the curve's shape is kept. ROC points are points of the full curve, and the thinned curve's
trapezoid area stays within about ``1 / max_points ** 2`` of AUROC (2e-6 on two million rows
at 1,000 points). A PR point keeps its threshold's recall, and as precision the mean over the
thresholds it stands for, weighted by the positives each adds: the thinned curve's step area
is then the average precision exactly.

Example:
    >>> import numpy as np
    >>> true_positives = np.cumsum(np.random.default_rng(0).integers(0, 2, 10_000))
    >>> keep = even_points(11, true_positives)
    >>> len(keep) <= 11, keep[[0, -1]].tolist()
    (True, [0, 9999])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_MAX_POINTS = 1000


def even_points(max_points: int, *running_sums: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Indices of at most ``max_points`` (at least 2) points at even steps of rank and of sums.

    ``running_sums`` are non-decreasing arrays, one per axis, of the curve's length. The first
    and last points are always kept; nothing of the curve's length is allocated.
    """
    count = len(running_sums[0])
    if count <= max_points:
        return np.arange(count)
    share = max_points // (len(running_sums) + 1)
    if share < 2:  # too few to share out: even steps of rank only
        return np.linspace(0, count - 1, max_points).astype(np.intp)
    chosen = [np.linspace(0, count - 1, share).astype(np.intp)]
    for sums in running_sums:
        targets = np.linspace(sums[0], sums[-1], share)
        chosen.append(np.minimum(np.searchsorted(sums, targets, side="left"), count - 1))
    return np.unique(np.concatenate(chosen))


@dataclass(frozen=True)
class Curve:
    """A curve as two coordinate lists and the score threshold at each point.

    ``thresholds[i]`` is the smallest score counted positive at point ``i`` (None where no
    score is, at the curve's start). ``full_points`` is how many points the curve had before
    it was thinned.
    """

    x_name: str
    y_name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    thresholds: tuple[float | None, ...]
    full_points: int

    def to_dict(self) -> dict[str, Any]:
        return {
            self.x_name: list(self.x),
            self.y_name: list(self.y),
            "thresholds": list(self.thresholds),
            "full_points": self.full_points,
        }

    def trapezoid_area(self) -> float:
        """Area under the stored points, joined by straight lines (ROC)."""
        return float(np.trapezoid(self.y, self.x))

    def step_area(self) -> float:
        """Area under the stored points as steps (average precision on a PR curve)."""
        x = np.asarray(self.x)
        return float(np.sum(np.diff(x) * np.asarray(self.y)[1:]))

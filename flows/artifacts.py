"""Prefect artifacts as aimops' progress view: a summary, a table and a link per task run.

Each aimops task publishes up to three artifacts under keys derived from what it judged, so
that every run of the same evaluation or check adds to one history in Prefect's UI
(Artifacts, then the key):

- ``aimops-<kind>-<subject>``: markdown: the verdict, the headline numbers, what failed;
- ``aimops-<kind>-<subject>-table``: a table (metrics, per-column drift, ramp steps...);
- ``aimops-<kind>-<subject>-link``: a link to the HTML report (a ``file://`` URI) or, with
  ``$AIMOPS_AIRFLOW_URL`` set, the page in Airflow.

``<kind>`` is the task's subject matter (``evaluation``, ``comparison``, ``drift``,
``lifecycle``, ``ramp``...), ``<subject>`` the model (``churn``; the version is in the
artifact, not the key: :func:`progress_subject`), else a data set's or check's name.
Publishing never fails the task: the record is written first, and a server that refuses an
artifact only costs a warning.

Example:
    >>> artifact_key("drift", "Breast_Cancer classifier")
    'aimops-drift-breast-cancer-classifier'
    >>> print(summary_markdown("Drift of churn/3", "fail", {"drift_share": 0.5},
    ...     ["age: wasserstein 0.31 > 0.1"]))
    ### Drift of churn/3
    <BLANKLINE>
    **Verdict: fail**
    <BLANKLINE>
    | | |
    |---|---|
    | drift_share | 0.5 |
    <BLANKLINE>
    What failed:
    <BLANKLINE>
    - age: wasserstein 0.31 > 0.1
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "aimops"
#: Prefect's artifact keys: lowercase letters, numbers and dashes.
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_MAX_KEY = 90  # room for the "-table" / "-link" suffixes


def artifact_key(kind: str, subject: str | None) -> str:
    """The stable key of a task's artifacts: ``aimops-<kind>-<subject>`` in Prefect's alphabet."""
    words = [PREFIX, kind, subject or "any"]
    key = "-".join(
        part for part in (_NOT_KEY.sub("-", w.lower()).strip("-") for w in words) if part
    )
    return key[:_MAX_KEY].rstrip("-")


def _cell(value: Any) -> str:
    """A value in a markdown table cell: numbers to 4 significant digits, pipes escaped."""
    text = f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    title: str,
    verdict: str,
    numbers: Mapping[str, Any],
    failures: Sequence[str] = (),
    lines: Sequence[str] = (),
) -> str:
    """The markdown summary: a title, the verdict, the headline numbers, then ``lines``
    (links, notes) and what failed."""
    parts = [f"### {title}", f"**Verdict: {verdict}**"]
    if numbers:
        rows = "\n".join(f"| {_cell(k)} | {_cell(v)} |" for k, v in numbers.items())
        parts.append(f"| | |\n|---|---|\n{rows}")
    parts.extend(lines)
    if failures:
        parts.append("What failed:\n\n" + "\n".join(f"- {_cell(item)}" for item in failures))
    return "\n\n".join(parts)


def airflow_page(url: str | None) -> str | None:
    """``url``, a page in Airflow's UI (:mod:`aimops.monitors.reports.urls`), when
    ``$AIMOPS_AIRFLOW_URL`` says where Airflow is; None otherwise: a task has no Airflow
    configuration to fall back on.

    Example:
        >>> import os
        >>> from aimops.monitors.reports.urls import model_version_url
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com/"
        >>> airflow_page(model_version_url("urn:aim:modelVersion:churn/3"))
        'https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/3'
        >>> del os.environ["AIMOPS_AIRFLOW_URL"]
        >>> airflow_page(model_version_url("urn:aim:modelVersion:churn/3")) is None
        True
    """
    from aimops.monitors.reports.urls import configured_airflow_url

    return url if url and configured_airflow_url() else None


def report_link(path: str | Path | None, page: str | None = None) -> str | None:
    """Where the link artifact points: the page in Airflow when ``$AIMOPS_AIRFLOW_URL`` is set
    and ``page`` (its address) is given, else the HTML report file; None without either."""
    if linked := airflow_page(page):
        return linked
    if path:
        return Path(path).resolve().as_uri()
    return None


# -- whose history a view extends: the subject ----------------------------------------------


def version_label_of(model_version: Any) -> str | None:
    """``name/3`` of a model version given in any form (a ``model_version_ref``, ``"name/3"``,
    its URN); None when none is given, or none that parses (the job says so).

    Example:
        >>> version_label_of("urn:aim:modelVersion:churn/3"), version_label_of(None)
        ('churn/3', None)
    """
    if model_version is None:
        return None
    from aimops.errors import InvalidInputError
    from aimops.monitors.sources import model_version_of, version_label

    try:
        return version_label(model_version_of(model_version)[0])
    except InvalidInputError:
        return None


def model_of(model_version: Any) -> str | None:
    """The model's name of a model version given in any form; None as for
    :func:`version_label_of`.

    Example:
        >>> model_of("urn:aim:modelVersion:churn/3"), model_of("fraud/1"), model_of(None)
        ('churn', 'fraud', None)
    """
    label = version_label_of(model_version)
    return None if label is None else label.rsplit("/", 1)[0]


def data_name(source: Any) -> str | None:
    """A table source's short name: a data set reference's or URN's key, a file's stem; None
    for a DataFrame.

    Example:
        >>> data_name("/data/test.csv"), data_name("file:///data/serving/requests.parquet")
        ('test', 'requests')
    """
    import os

    from aimops.metadata.urns import Urn

    if isinstance(source, Mapping) and source.get("urn"):
        source = source["urn"]
    if isinstance(source, Urn) or (isinstance(source, str) and source.startswith("urn:")):
        return "/".join(Urn.parse(source).segments)
    if isinstance(source, str | os.PathLike):
        return Path(str(source).removeprefix("file://")).stem or None
    return None


def progress_subject(model_version: Any, *names: str | None) -> str | None:
    """Whose history a task's artifacts extend: the model's name (not its version: every
    version adds to one history), else the first of ``names`` given (a data set's, a
    suite's); None when there is none (the caller then takes the flow's name).

    Example:
        >>> progress_subject("churn/3", "test"), progress_subject(None, data_name("/data/test.csv"))
        ('churn', 'test')
    """
    return model_of(model_version) or next((name for name in names if name), None)


@dataclass
class ProgressView:
    """What a task publishes: the summary, a table, a link (see the module)."""

    kind: str
    subject: str | None
    markdown: str
    description: str
    table: list[dict[str, Any]] = field(default_factory=list)
    link: str | None = None
    link_text: str = "report"

    @property
    def key(self) -> str:
        return artifact_key(self.kind, self.subject)

    def keys(self) -> dict[str, str]:
        """The keys this view publishes under, by artifact type."""
        found = {"markdown": self.key}
        if self.table:
            found["table"] = f"{self.key}-table"
        if self.link:
            found["link"] = f"{self.key}-link"
        return found

    def publish(self) -> dict[str, str]:
        """Create the artifacts; the keys made. A failure is logged, never raised."""
        from prefect.artifacts import (
            create_link_artifact,
            create_markdown_artifact,
            create_table_artifact,
        )

        from aimops.flows.frame import run_logger

        keys = self.keys()
        try:
            create_markdown_artifact(
                self.markdown, key=keys["markdown"], description=self.description
            )
            if "table" in keys:
                table = [{k: _plain(v) for k, v in row.items()} for row in self.table]
                create_table_artifact(table, key=keys["table"], description=self.description)
            if "link" in keys:
                create_link_artifact(
                    str(self.link), link_text=self.link_text, key=keys["link"],
                    description=self.description,
                )  # fmt: skip
        except Exception as exc:  # the record is written: the view must not undo the task
            run_logger().warning("artifacts %s not published: %s", self.key, exc)
            return {}
        run_logger().info("artifacts: %s", ", ".join(keys.values()))
        return keys


def _plain(value: Any) -> Any:
    """A table cell Prefect can store as JSON and its UI shows as written: numbers to 6
    significant digits, text, booleans or None. Prefect renders a cell as markdown, where a
    leading ``>`` starts a quote: bounds are written ``≥ 0.9``, ``≤ 300``.

    Example:
        >>> [_plain(v) for v in (0.9976939203354298, ">= 0.9", "<= 300", float("nan"), None)]
        [0.997694, '≥ 0.9', '≤ 300', 'nan', None]
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return (
            float(f"{value:.6g}") if value == value and abs(value) != float("inf") else str(value)
        )
    text = str(value)
    for written, shown in ((">=", "≥"), ("<=", "≤"), (">", "above"), ("<", "below")):
        if text.startswith(written):
            return f"{shown} {text[len(written) :].lstrip()}"
    return text

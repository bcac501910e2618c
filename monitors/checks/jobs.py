"""Monitoring checks as one job each: read the data, check, record, save the reports.

The Airflow operators (and the Prefect tasks) are thin wrappers of these functions, so a
notebook records exactly what a scheduled pipeline does:

- :func:`run_data_quality` validates a table against a Great Expectations suite;
- :func:`run_drift` compares current data with the reference data registered for a model
  version (or given), and can save Evidently's HTML report beside the check;
- :func:`run_feature_consistency` compares the features a model was trained on (its reference
  data by default) with the ones served;
- :func:`run_health` judges a log of served requests against service-level objectives.

Tables are pandas DataFrames, CSV or Parquet paths (or ``file://`` URIs) or dataset
references. Each check is recorded (see :mod:`aimops.monitors.checks.recording`) as a check of the
model version, the data set a file or reference names, and any further ``targets``
(deployments, say); ``key`` and ``producer`` make a retried task record over its first try.
Unless ``report_dir`` is None, the check's page is written to ``report_dir`` (``"default"``:
``$AIMOPS_HOME/reports``) and its path kept with the check. Nothing raises on a failed check:
the outcome's :meth:`CheckOutcome.raise_for_status` does, naming what failed, so that the
evidence is recorded first. Bad input raises before anything is recorded.

Example:
    >>> import aimops, pandas as pd
    >>> store = aimops.connect("sqlite://")
    >>> before = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6]})
    >>> outcome = run_drift(store, before + 10, reference=before, key="doc/drift",
    ...                     report_dir=None)
    >>> outcome.status, str(outcome.urn)
    ('fail', 'urn:aim:check:doc/drift')
    >>> print(describe_failure(outcome.result))
    drift in 1 of 1 column (share 1 >= 0.5): x (ks 0.00216 <= 0.05)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aimops.errors import CheckFailedError, InvalidInputError
from aimops.metadata.urns import Urn
from aimops.monitors.checks.recording import check_targets, check_urn, record_check
from aimops.monitors.checks.registry import describe_failure
from aimops.monitors.reports.page import report_path
from aimops.monitors.sources import dataset_of, model_version_of, read_table, version_label

if TYPE_CHECKING:
    import pandas as pd

    from aimops.metadata.store import AimStore
    from aimops.monitors.checks.base import CheckResult, CheckStatus

log = logging.getLogger(__name__)

#: The name of the check's own page among its reports; Evidently's is ``evidently``.
CHECK_PAGE = "check"
EVIDENTLY_REPORT = "evidently"
_Setting = TypeVar("_Setting")


@dataclass(frozen=True)
class CheckOutcome:
    """What a check job made: the result, its URN, the saved reports and, for a health
    check, the time window of the log it read."""

    urn: Urn
    result: CheckResult
    reports: dict[str, Path] = field(default_factory=dict)
    window: tuple[datetime, datetime] | None = None

    @property
    def status(self) -> CheckStatus:
        return self.result.status

    def raise_for_status(self, fail_on: Sequence[str] = ("fail",)) -> None:
        """Raise :class:`~aimops.errors.CheckFailedError` when the status is in ``fail_on``,
        naming what failed and the check's URN."""
        if self.status in fail_on:
            raise CheckFailedError(f"{describe_failure(self.result)} [{self.urn}]")


def run_data_quality(
    store: AimStore,
    data: Any,
    suite: Any,
    *,
    model_version: Any = None,
    targets: Sequence[str | Urn] = (),
    name: str | None = None,
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
) -> CheckOutcome:
    """Validate the table ``data`` against the Great Expectations ``suite`` (entries, a YAML
    or JSON file, YAML text: see
    :func:`~aimops.monitors.checks.data_quality.check_data_quality`)."""
    from aimops.monitors.checks.data_quality import check_data_quality

    checked = _targets(model_version, data, targets)
    result = check_data_quality(read_table(data), suite, name=name)
    return _record(store, result, checked, key, producer, report_dir, name)


def run_drift(
    store: AimStore,
    current: Any,
    *,
    reference: Any = None,
    model_version: Any = None,
    targets: Sequence[str | Urn] = (),
    columns: Sequence[str] | None = None,
    numerical_columns: Sequence[str] | None = None,
    categorical_columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 1,
    evidently_report: bool = False,
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
) -> CheckOutcome:
    """Drift of ``current`` from ``reference`` (default: the reference data registered for
    ``model_version``), over ``columns`` (default: the reference's columns, which ``current``
    must all have; its other columns, a request log's timestamps say, are left out).

    ``evidently_report=True`` also saves Evidently's HTML report of the same data (slow on
    large data: Evidently computes it all again).
    """
    from aimops.monitors.checks.drift import check_drift

    checked = _targets(model_version, current, targets)
    reference_frame = _reference(store, reference, model_version, "reference")
    current_frame = read_table(current)
    chosen = _columns(columns, reference_frame, current_frame)
    result = check_drift(
        reference_frame[chosen], current_frame[chosen], numerical_columns=numerical_columns,
        categorical_columns=categorical_columns, methods=_by_name(methods),
        thresholds=_by_name(thresholds), drift_share=drift_share, min_rows=min_rows,
    )  # fmt: skip
    saved = {}
    if evidently_report and report_dir is not None:
        # Written beside its final name, moved there once the check is recorded: a check the
        # store refuses (a key already naming another check) leaves no report behind.
        from aimops.monitors.checks.evidently_engine import save_evidently_report

        urn = check_urn(result.to_dict(), checked, key)
        final = report_path(report_dir, urn, EVIDENTLY_REPORT)
        saved[EVIDENTLY_REPORT] = save_evidently_report(
            reference_frame[chosen], current_frame[chosen],
            final.with_name(f".{final.name}.{secrets.token_hex(6)}.partial"),
            numerical_columns=numerical_columns, categorical_columns=categorical_columns,
            drift_share=drift_share, methods=methods, thresholds=thresholds,
        )  # fmt: skip
    return _record(store, result, checked, key, producer, report_dir, None, saved)


def run_feature_consistency(
    store: AimStore,
    serving: Any,
    *,
    training: Any = None,
    model_version: Any = None,
    targets: Sequence[str | Urn] = (),
    features: Sequence[str] | None = None,
    entity_key: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    min_match_rate: float = 0.99,
    skew_status: Literal["fail", "warn"] = "fail",
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
) -> CheckOutcome:
    """Training/serving skew of the features in ``serving`` against ``training`` (default: the
    reference data registered for ``model_version``), over ``features`` (default: the
    training side's columns but ``entity_key``)."""
    from aimops.monitors.checks.consistency import check_feature_consistency

    checked = _targets(model_version, serving, targets)
    training_frame = _reference(store, training, model_version, "training")
    serving_frame = read_table(serving)
    if features is None:
        features = [str(name) for name in training_frame.columns if name != entity_key]
    result = check_feature_consistency(
        training_frame, serving_frame, features=list(features), key=entity_key,
        thresholds=_by_name(thresholds), min_match_rate=min_match_rate, skew_status=skew_status,
    )  # fmt: skip
    return _record(store, result, checked, key, producer, report_dir, None)


def run_health(
    store: AimStore,
    requests: Any,
    *,
    model_version: Any = None,
    served_as: str | None = None,
    targets: Sequence[str | Urn] = (),
    objectives: Mapping[str, float | None] | None = None,
    min_requests: int = 100,
    key: str | None = None,
    producer: str | Urn | None = None,
    report_dir: str | Path | None = "default",
) -> CheckOutcome:
    """Latency, errors and throughput of the request log ``requests`` against
    ``objectives``: of ``model_version`` alone when given (its rows are those whose
    ``model_version`` column holds ``served_as``, default ``name/version``), else of every
    version in the log."""
    from aimops.monitors.checks.health import check_health

    checked = _targets(model_version, requests, targets)
    log = read_table(requests)
    served = served_as
    if served is None and model_version is not None:
        served = version_label(model_version_of(model_version)[0])
    result = check_health(
        log, model_version=served, objectives=objectives, min_requests=min_requests
    )
    outcome = _record(store, result, checked, key, producer, report_dir, None)
    return dataclasses.replace(outcome, window=_window(log, served))


# -- shared steps ------------------------------------------------------------------------------


def _targets(model_version: Any, data: Any, extra: Sequence[str | Urn]) -> list[Urn]:
    """The model version, the data set a file or reference names, and ``extra``."""
    found: list[Urn] = []
    if model_version is not None:
        found.append(model_version_of(model_version)[0])
    dataset = dataset_of(data) if not _is_frame(data) else None
    if dataset is not None:
        found.append(dataset)
    found.extend(check_targets(list(extra)))
    return list(dict.fromkeys(found))


def _by_name(given: Mapping[str, _Setting] | None) -> dict[Hashable, _Setting] | None:
    """A setting per column or feature, keyed as the checks take them."""
    return {name: value for name, value in given.items()} if given else None


def _is_frame(data: Any) -> bool:
    import pandas as pd

    return isinstance(data, pd.DataFrame)


def _reference(store: AimStore, given: Any, model_version: Any, role: str) -> pd.DataFrame:
    """The given table, else the reference data registered for ``model_version``."""
    if given is not None:
        frame: pd.DataFrame = read_table(given)
        return frame
    if model_version is None:
        raise InvalidInputError(
            f"give the {role} data, or a model_version whose reference data is registered"
        )
    from aimops.monitors.checks.reference_data import load_reference

    return load_reference(store, model_version_of(model_version)[0])


def _columns(
    chosen: Sequence[str] | None, reference: pd.DataFrame, current: pd.DataFrame
) -> list[str]:
    from aimops.errors import InvalidDataError

    names = [str(name) for name in (chosen if chosen is not None else reference.columns)]
    for frame, role in ((reference, "reference"), (current, "current")):
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise InvalidDataError(f"the {role} data lacks column(s) {missing}")
    return names


def _record(
    store: AimStore,
    result: CheckResult,
    targets: Sequence[Urn],
    key: str | None,
    producer: str | Urn | None,
    report_dir: str | Path | None,
    name: str | None,
    written: Mapping[str, Path] | None = None,
) -> CheckOutcome:
    """Record ``result`` with its reports, then put them in place: the ``written`` ones (under
    a temporary name) are moved to their names, and the check's page is written (it shows
    when the check was recorded, so it comes after). The page is a convenience (Airflow
    renders the check from the store): failing to write it is logged, not raised, so the
    recorded verdict stands."""
    urn = check_urn(result.to_dict(), targets, key)
    reports: dict[str, Path] = {}
    if report_dir is not None:  # only then are there reports written
        reports = {report: report_path(report_dir, urn, report) for report in written or {}}
        reports[CHECK_PAGE] = report_path(report_dir, urn)
    uris = {report: path.resolve().as_uri() for report, path in reports.items()}
    try:
        record_check(
            store, result, target=list(targets), key=key, producer=producer, name=name,
            reports=uris,
        )  # fmt: skip
    except BaseException:
        for partial in (written or {}).values():
            partial.unlink(missing_ok=True)
        raise
    for report, partial in (written or {}).items():
        os.replace(partial, reports[report])
    if CHECK_PAGE in reports:
        _write_page(store, result, urn, targets, reports)
    return CheckOutcome(urn, result, reports)


def _write_page(
    store: AimStore,
    result: CheckResult,
    urn: Urn,
    targets: Sequence[Urn],
    reports: dict[str, Path],
) -> None:
    """The check's page beside its other reports; a failure is logged and the page dropped."""
    from aimops.monitors.reports.check_page import write_check_report

    info = store.get_aspect(urn, "checkInfo")
    checked_at = str(info.value["checked_at"]) if info is not None else None
    links = {}
    if EVIDENTLY_REPORT in reports:  # beside the page: a relative link
        links["Evidently report"] = reports[EVIDENTLY_REPORT].name
    try:
        write_check_report(
            result.to_dict(), reports[CHECK_PAGE], title=str(urn), links=links,
            checked_at=checked_at, targets=[str(target) for target in targets],
        )  # fmt: skip
    except (OSError, InvalidInputError) as exc:  # InvalidInputError: a path too long, say
        log.warning("%s is recorded, but its page could not be written: %s", urn, exc)
        del reports[CHECK_PAGE]


def _window(log: pd.DataFrame, served: str | None) -> tuple[datetime, datetime] | None:
    """The first and last request time of ``served`` (or of the whole log)."""
    rows = log if served is None else log[log["model_version"] == served]
    if rows.empty:
        return None
    import pandas as pd

    times = pd.to_datetime(rows["timestamp"], utc=True)
    return times.min().to_pydatetime(), times.max().to_pydatetime()

"""Where a serving fleet's request logs and feature snapshots are: by day, or by window.

A day of serving is a folder ``<root>/<model>/<version>/<YYYY-MM-DD>/`` holding
``requests.parquet`` (the request log :func:`~aimops.monitors.check_health` reads, with the
served features) and ``features.parquet`` (the feature snapshot). The root is
``$AIMOPS_SERVING_LOGS``, else ``$AIMOPS_HOME/serving``. The serving simulator writes such
folders (:meth:`~aimops.monitors.serving.simulator.ServingDay.write`); a real fleet's log
shipper would write the same two files.

A window of serving (a ramp step's minutes, say) is a folder inside the day it starts on,
holding the same two files: ``<day>/<HHMMSS.ffffff>-<HHMMSS.ffffff>/``, its start and end
(exclusive) as UTC times of that day to the microsecond. An end on the next day counts its
hours on from 24, as timetables do past midnight: 23:55 to 00:05 is
``2026-11-26/235500.000000-240500.000000``. A window lasts at most a day, and the names sort
by start. :func:`window_folder` names it; :func:`read_window` reads the requests of some
versions in any span of time from the windows and whole days that overlap it. A request is
logged once: a version's windows do not overlap each other, nor a day it has a whole log of.
Window folders are not days: :func:`latest_day` looks at whole days only.

Example:
    >>> import datetime, pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for day in ("2026-11-25", "2026-11-26"):
    ...     folder = day_folder("churn/3", datetime.date.fromisoformat(day), root=root)
    ...     folder.mkdir(parents=True)
    ...     for name in ("requests.parquet", "features.parquet"):
    ...         _ = (folder / name).write_bytes(b"")
    >>> latest_day("churn/3", root=root).day
    datetime.date(2026, 11, 26)
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimops import validation
from aimops.errors import InvalidDataError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ROOT_ENV = "AIMOPS_SERVING_LOGS"
#: The two files of a day of serving: the request log and the feature snapshot.
REQUESTS_FILE = "requests.parquet"
FEATURES_FILE = "features.parquet"
#: The columns :func:`read_window` reads unless told otherwise: what
#: :func:`~aimops.monitors.check_health` needs.
WINDOW_COLUMNS = ("timestamp", "model_version", "latency_ms", "status")
#: The longest window of serving.
MAX_WINDOW = datetime.timedelta(days=1)
#: The dtype of a request log's own columns in a frame of no requests (other columns: object).
EMPTY_DTYPES = {
    "request_id": "object",
    "timestamp": "datetime64[ns, UTC]",
    "model_version": "object",
    "latency_ms": "float64",
    "status": "int64",
    "score": "float64",
}
_UTC = datetime.UTC
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_MICROS_PER_DAY = 86_400_000_000
_WINDOW_NAME = re.compile(r"(\d\d)(\d\d)(\d\d)\.(\d{6})-(\d\d)(\d\d)(\d\d)\.(\d{6})")
_NANOS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INT64 = (-(2**63), 2**63 - 1)
#: Text columns with few distinct values, read as dictionaries (then given back as text).
_REPEATED = ["model_version", "status"]


@dataclass(frozen=True)
class ServedDayFiles:
    """One day of serving of a model version: its request log and feature snapshot."""

    model_version: str
    day: datetime.date
    requests: Path
    features: Path


def serving_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else ``$AIMOPS_SERVING_LOGS``, else ``$AIMOPS_HOME/serving``."""
    if root is not None and not (isinstance(root, str) and not root.strip()):
        return validation.file_path(root, "the serving logs' root")
    configured = os.environ.get(ROOT_ENV, "").strip()
    if configured:
        return Path(configured)
    from aimops.settings import aimops_home

    return aimops_home() / "serving"


def day_folder(
    model_version: str, day: datetime.date, *, root: str | os.PathLike[str] | None = None
) -> Path:
    """The folder of ``model_version``'s (``name/version``) serving on ``day``."""
    return _version_folder(model_version, root) / day.isoformat()


def window_folder(
    model_version: str,
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """The folder of ``model_version``'s (``name/version``) serving from ``start`` to ``end``.

    ``start`` and ``end`` are timezone-aware datetimes (taken in UTC; a naive one is refused),
    ``start`` before ``end``, at most :data:`MAX_WINDOW` apart, to the microsecond. See the
    module docstring for the name.

    Example:
        >>> from datetime import UTC, datetime
        >>> start = datetime(2026, 11, 26, 23, 55, tzinfo=UTC)
        >>> end = datetime(2026, 11, 27, 0, 5, tzinfo=UTC)
        >>> window_folder("churn/3", start, end, root="/srv/logs").as_posix()
        '/srv/logs/churn/3/2026-11-26/235500.000000-240500.000000'
    """
    first, last = _utc(start, "start"), _utc(end, "end")
    if getattr(start, "nanosecond", 0) or getattr(end, "nanosecond", 0):
        raise InvalidInputError(
            f"a window is named to the microsecond; {start!r} to {end!r} is finer than that"
        )
    if not first < last:
        raise InvalidInputError(f"a window's start must be before its end, not {first} to {last}")
    if last - first > MAX_WINDOW:
        raise InvalidInputError(
            f"a window lasts at most a day, not {last - first} (from {first} to {last}): "
            "a longer span is whole days and windows, which read_window reads together"
        )
    day = first.date()
    midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=_UTC)
    name = f"{_time_of_day(first - midnight)}-{_time_of_day(last - midnight)}"
    return _version_folder(model_version, root) / day.isoformat() / name


def read_window(
    model: str,
    versions: Sequence[str],
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    root: str | os.PathLike[str] | None = None,
    columns: Sequence[str] = WINDOW_COLUMNS,
) -> pd.DataFrame:
    """The requests that ``model``'s ``versions`` (``"3"``, ...) served from ``start`` to
    ``end``: every row with ``start <= timestamp < end`` of the version's windows and whole
    days that overlap that span, only ``columns`` of them.

    ``start`` and ``end`` are timezone-aware datetimes (naive ones are refused), ``start``
    no later than ``end`` (``start == end`` is a span of no time). ``timestamp`` comes in
    UTC (``datetime64[ns, UTC]``; naive times in a log are taken as UTC) and
    ``model_version`` as the logs have it (``churn/3``). Rows come version by version in the
    order given, each version's files in time order, each file's rows as written. Nothing
    served is a frame of no rows with the same ``columns`` (dtypes: :data:`EMPTY_DTYPES`).
    Raises :class:`~aimops.errors.InvalidDataError` naming a file that cannot be read or
    lacks a column.

    Example:
        >>> import pathlib, tempfile
        >>> from datetime import UTC, datetime
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> start = datetime(2026, 11, 26, 10, tzinfo=UTC)
        >>> end = datetime(2026, 11, 26, 10, 10, tzinfo=UTC)
        >>> read_window("churn", ["3", "4"], start, end, root=root).dtypes.astype(str).to_dict()
        {'timestamp': 'datetime64[ns, UTC]', 'model_version': 'object', 'latency_ms': \
'float64', 'status': 'int64'}
    """
    wanted = _columns(columns)
    folders = [_version_folder(label, root) for label in _labels(model, versions)]
    first, last = _utc(start, "start"), _utc(end, "end")
    if last < first:
        raise InvalidInputError(f"start must not be after end, not {first} to {last}")
    low = _micros(first) * 1000 + getattr(first, "nanosecond", 0)  # a pandas Timestamp's
    high = _micros(last) * 1000 + getattr(last, "nanosecond", 0)
    files = [path for folder in folders for path in _request_files(folder, low, high)]
    if not files:
        return _empty_frame(wanted)
    return _frame([_read_requests(path, wanted, low, high) for path in files], wanted)


def latest_day(model_version: str, *, root: str | os.PathLike[str] | None = None) -> ServedDayFiles:
    """The newest day of ``model_version`` with both files; raises
    :class:`~aimops.errors.NotFoundError` naming the folder when there is none."""
    folder = _version_folder(model_version, root)
    days = []
    for child in folder.iterdir() if folder.is_dir() else ():
        day = _day(child.name)
        if day and (child / REQUESTS_FILE).is_file() and (child / FEATURES_FILE).is_file():
            days.append(day)
    if not days:
        raise NotFoundError(
            f"no day of serving of {model_version} in {folder}: expected folders "
            f"YYYY-MM-DD holding {REQUESTS_FILE} and {FEATURES_FILE}"
        )
    newest = max(days)
    found = folder / newest.isoformat()
    return ServedDayFiles(model_version, newest, found / REQUESTS_FILE, found / FEATURES_FILE)


def _version_folder(model_version: str, root: str | os.PathLike[str] | None) -> Path:
    name, slash, version = model_version.rpartition("/")
    segments = [*name.split("/"), version]  # no empty (absolute), '.' or '..' segment
    if not slash or any(part in ("", ".", "..") or "\\" in part for part in segments):
        raise InvalidInputError(f"a served model version is 'name/version', not {model_version!r}")
    return serving_root(root) / name / version


def _day(name: str) -> datetime.date | None:
    """The day a folder named ``name`` is of (``YYYY-MM-DD``), or None."""
    try:
        day = datetime.date.fromisoformat(name)
    except ValueError:
        return None
    return day if name == day.isoformat() else None  # 20261126 or 2026-W48-4: not a day


def _utc(value: Any, what: str) -> datetime.datetime:
    moment = validation.moment(value, what)
    if moment.utcoffset() is None:
        raise InvalidInputError(
            f"{what} must be a timezone-aware datetime (UTC), not naive: {validation.shown(value)}"
        )
    try:
        return moment.astimezone(_UTC)
    except OverflowError:
        raise InvalidInputError(
            f"{what} {validation.shown(value)} is out of range in UTC"
        ) from None


def _micros(moment: datetime.datetime) -> int:
    """Microseconds since 1970 (UTC), however far from it."""
    return (moment - _EPOCH) // datetime.timedelta(microseconds=1)


def _time_of_day(since_midnight: datetime.timedelta) -> str:
    """``HHMMSS.ffffff``, hours from 0 to 47."""
    micros = since_midnight // datetime.timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours:02d}{minute:02d}{second:02d}.{micro:06d}"


def _window_span(name: str) -> tuple[int, int] | None:
    """The start and end (microseconds since midnight) a window folder's name says, or None
    for a name that is not a window's."""
    match = _WINDOW_NAME.fullmatch(name)
    if not match:
        return None
    h1, m1, s1, f1, h2, m2, s2, f2 = (int(part) for part in match.groups())
    if max(m1, s1, m2, s2) >= 60 or h1 >= 24:
        return None
    start = ((h1 * 60 + m1) * 60 + s1) * 1_000_000 + f1
    end = ((h2 * 60 + m2) * 60 + s2) * 1_000_000 + f2
    return (start, end) if 0 < end - start <= _MICROS_PER_DAY else None


def _request_files(folder: Path, low: int, high: int) -> list[Path]:
    """The request logs in ``folder`` (a version's) of whole days and windows that overlap
    ``low`` to ``high`` (nanoseconds since 1970, ``high`` exclusive), in time order."""
    low, high = low // 1000, -(-high // 1000)  # in microseconds, the span no shorter
    epoch = _EPOCH.date().toordinal()
    spans = []
    with validation.usable_path(folder, "a serving logs' folder"):
        for child in folder.iterdir() if folder.is_dir() else ():
            day = _day(child.name)
            midnight = (day.toordinal() - epoch) * _MICROS_PER_DAY if day else 0
            if not (day and midnight < high and low < midnight + 2 * _MICROS_PER_DAY):
                continue  # not a day, or one whose windows (ending by the next) miss the span
            if not child.is_dir():
                continue
            spans.append((midnight, midnight + _MICROS_PER_DAY, child / REQUESTS_FILE))
            for window in child.iterdir():
                span = _window_span(window.name)
                if span:
                    spans.append((midnight + span[0], midnight + span[1], window / REQUESTS_FILE))
        return [
            path
            for begins, ends, path in sorted(spans)
            if begins < high and low < ends and path.is_file()
        ]


def _columns(columns: Any) -> list[str]:
    wanted = list(validation.texts(columns, "columns", empty=False))
    if not wanted:
        raise InvalidInputError("columns must name at least one column of the request log")
    repeated = sorted({name for name in wanted if wanted.count(name) > 1})
    if repeated:
        raise InvalidInputError(f"columns names {repeated} more than once")
    return wanted


def _labels(model: Any, versions: Any) -> list[str]:
    """The ``name/version`` labels of ``model``'s ``versions``, each once."""
    name = validation.text(model, "model", empty=False, nul=False)
    labels = []
    for i, item in enumerate(validation.items(versions, "versions")):
        version = validation.text(
            validation.key_segment(item, f"item {i} of versions"), "a version", nul=False
        )
        if "/" in version:
            raise InvalidInputError(f"a version is one name ('3'), not {version!r}")
        labels.append(f"{name}/{version}")
    if not labels:
        raise InvalidInputError(f"versions must name at least one version of {name}")
    return list(dict.fromkeys(labels))


def _read_requests(path: Path, columns: list[str], low: int, high: int) -> pa.Table:
    """``columns`` of the rows of ``path`` from ``low`` to ``high`` (nanoseconds since 1970,
    ``high`` exclusive), ``timestamp`` in UTC to the nanosecond.

    The row groups' timestamp statistics say which groups to skip, which to take whole and
    which to filter row by row; texts that repeat (:data:`_REPEATED`) come as dictionaries.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path, read_dictionary=_REPEATED) as file:
            schema = file.schema_arrow
            missing = [name for name in [*columns, "timestamp"] if name not in schema.names]
            if missing:
                raise InvalidDataError(f"{path} has no column(s) {sorted(set(missing))}")
            moment = schema.field("timestamp").type
            if not pa.types.is_timestamp(moment):
                raise InvalidDataError(f"{path}: column 'timestamp' holds {moment}, not times")
            per_unit = _NANOS_PER_UNIT[moment.unit]
            first, stop = (_clamped(-(-n // per_unit)) for n in (low, high))
            groups, partly = _row_groups(file.metadata, first, stop)
            read = columns if not partly or "timestamp" in columns else [*columns, "timestamp"]
            table = file.read_row_groups(groups, columns=read, use_threads=True)
        if partly:
            times = table["timestamp"]
            inside = pc.and_(
                pc.greater_equal(times, pa.scalar(first, type=moment)),
                pc.less(times, pa.scalar(stop, type=moment)),
            )
            table = table.filter(inside)
        table = table.select(columns).replace_schema_metadata(None)
        nanos = pa.timestamp("ns", tz="UTC")
        if "timestamp" in columns and moment != nanos:  # naive times are UTC's
            at = table.schema.get_field_index("timestamp")
            table = table.set_column(at, "timestamp", table["timestamp"].cast(nanos))
        return table
    except (OSError, pa.ArrowException) as exc:
        raise InvalidDataError(f"cannot read requests from {path}: {exc}") from exc


def _row_groups(metadata: Any, first: int, stop: int) -> tuple[list[int], bool]:
    """The row groups whose timestamps (raw, in the column's unit) may lie from ``first`` to
    ``stop`` (exclusive), and whether some of them may also hold rows outside."""
    paths = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    column = paths.index("timestamp")
    groups, partly = [], False
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max or stats.physical_type != "INT64":
            groups.append(group)  # no statistics to go by: every row is looked at
            partly = True
            continue
        smallest, largest = stats.min_raw, stats.max_raw
        if largest < first or smallest >= stop:
            continue
        groups.append(group)
        partly = partly or smallest < first or largest >= stop
    return groups, partly


def _clamped(value: int) -> int:
    return min(max(value, _INT64[0]), _INT64[1])


def _frame(tables: list[pa.Table], columns: list[str]) -> pd.DataFrame:
    import pyarrow as pa

    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise InvalidDataError(f"the request logs disagree on a column's type: {exc}") from exc
    frame = table.to_pandas()
    for name in _REPEATED:  # read as dictionaries for speed, given back as plain values
        if name in frame.columns and frame[name].dtype == "category":
            frame[name] = frame[name].astype(object)
    return frame


def _empty_frame(columns: list[str]) -> pd.DataFrame:
    """No requests, with ``columns`` typed as :data:`EMPTY_DTYPES` says."""
    import pandas as pd

    return pd.DataFrame(
        {name: pd.Series(dtype=EMPTY_DTYPES.get(name, "object")) for name in columns}
    )

"""Where a serving fleet's daily request logs and feature snapshots are, and the latest one.

A day of serving is a folder ``<root>/<model>/<version>/<YYYY-MM-DD>/`` holding
``requests.parquet`` (the request log :func:`~aimops.monitors.check_health` reads, with the
served features) and ``features.parquet`` (the feature snapshot). The root is
``$AIMOPS_SERVING_LOGS``, else ``$AIMOPS_HOME/serving``. The serving simulator writes such
folders (:meth:`~aimops.monitors.serving.simulator.ServingDay.write`); a real fleet's log
shipper would write the same two files.

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
from dataclasses import dataclass
from pathlib import Path

from aimops.errors import InvalidInputError, NotFoundError

ROOT_ENV = "AIMOPS_SERVING_LOGS"
#: The two files of a day of serving: the request log and the feature snapshot.
REQUESTS_FILE = "requests.parquet"
FEATURES_FILE = "features.parquet"


@dataclass(frozen=True)
class ServedDayFiles:
    """One day of serving of a model version: its request log and feature snapshot."""

    model_version: str
    day: datetime.date
    requests: Path
    features: Path


def serving_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else ``$AIMOPS_SERVING_LOGS``, else ``$AIMOPS_HOME/serving``."""
    if root is not None and str(root).strip():
        return Path(root)
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


def latest_day(model_version: str, *, root: str | os.PathLike[str] | None = None) -> ServedDayFiles:
    """The newest day of ``model_version`` with both files; raises
    :class:`~aimops.errors.NotFoundError` naming the folder when there is none."""
    folder = _version_folder(model_version, root)
    days = []
    for child in folder.iterdir() if folder.is_dir() else ():
        try:
            day = datetime.date.fromisoformat(child.name)
        except ValueError:
            continue
        if child.name != day.isoformat():  # 20261126 or 2026-W48-4: a date, not a day folder
            continue
        if (child / REQUESTS_FILE).is_file() and (child / FEATURES_FILE).is_file():
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

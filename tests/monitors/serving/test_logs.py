"""Where a serving fleet's days are, and which is the latest one a check should read."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimops.errors import InvalidInputError, NotFoundError
from aimops.monitors.serving.logs import day_folder, latest_day, serving_root

DAY = datetime.date(2026, 11, 26)


def _day(root: Path, name: str, files: tuple[str, ...] = ("requests", "features")) -> Path:
    folder = root / "churn" / "3" / name
    folder.mkdir(parents=True)
    for file in files:
        (folder / f"{file}.parquet").write_bytes(b"")
    return folder


def test_the_newest_day_with_both_files_wins(tmp_path: Path) -> None:
    _day(tmp_path, "2026-11-24")
    whole = _day(tmp_path, "2026-11-25")
    _day(tmp_path, "2026-11-26", files=("requests",))  # still being written: skipped
    _day(tmp_path, "2026-11-27", files=())
    _day(tmp_path, "latest")  # not a day
    _day(tmp_path, "20261128")  # a date, but not a day folder's name
    _day(tmp_path, "2026-W48-7")
    (tmp_path / "churn" / "3" / "2026-11-29").write_text("a file, not a folder")
    found = latest_day("churn/3", root=tmp_path)
    assert (found.model_version, found.day) == ("churn/3", datetime.date(2026, 11, 25))
    assert (found.requests, found.features) == (
        whole / "requests.parquet",
        whole / "features.parquet",
    )
    assert found.requests.is_file() and found.features.is_file()


def test_no_day_is_an_error_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as raised:
        latest_day("churn/3", root=tmp_path)
    assert str(raised.value) == (
        f"no day of serving of churn/3 in {tmp_path / 'churn' / '3'}: expected folders "
        "YYYY-MM-DD holding requests.parquet and features.parquet"
    )
    _day(tmp_path, "2026-11-26", files=("features",))
    with pytest.raises(NotFoundError, match=r"^no day of serving of churn/3 in "):
        latest_day("churn/3", root=tmp_path)


def test_the_root_is_given_else_the_environment_else_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIMOPS_SERVING_LOGS", raising=False)
    assert serving_root() == tmp_path / "home" / "serving"
    assert (
        day_folder("churn/3", DAY) == tmp_path / "home" / "serving" / "churn" / "3" / "2026-11-26"
    )
    monkeypatch.setenv("AIMOPS_SERVING_LOGS", str(tmp_path / "fleet"))
    assert serving_root() == tmp_path / "fleet"
    assert serving_root(" ") == tmp_path / "fleet"
    assert serving_root(tmp_path / "mine") == tmp_path / "mine"
    _day(tmp_path / "fleet", "2026-11-26")
    assert latest_day("churn/3").requests == day_folder("churn/3", DAY) / "requests.parquet"


@pytest.mark.parametrize(
    "model_version",
    [
        "churn",
        "churn/",
        "/3",
        "churn/..",
        "../churn/3",
        "a/../../3",
        "/etc/3",
        "churn/./3",
        "c\\x/3",
    ],
)
def test_a_version_that_is_not_name_slash_version_is_refused(
    model_version: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        day_folder(model_version, DAY, root=tmp_path)
    assert str(raised.value) == f"a served model version is 'name/version', not {model_version!r}"
    with pytest.raises(InvalidInputError):
        latest_day(model_version, root=tmp_path)


def test_a_model_name_may_have_folders(tmp_path: Path) -> None:
    assert day_folder("team/churn/3", DAY, root=tmp_path) == tmp_path / "team/churn/3/2026-11-26"


def test_a_simulated_day_is_found_and_read_back(tmp_path: Path) -> None:
    from aimops.monitors import check_health
    from aimops.monitors.serving.simulator import ServingDay, simulate_serving_day

    class Half:
        def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
            return np.full((len(rows), 2), 0.5)

    features = pd.DataFrame({"age": [31.0, 45.0, 52.0, 28.0], "tenure": [1.0, 7.0, 3.0, 12.0]})
    for offset, requests in ((0, 300), (1, 400)):
        day = DAY + datetime.timedelta(days=offset)
        simulate_serving_day(
            Half(), features, model_version="churn/3", day=day, requests=requests, seed=offset
        ).write(day_folder("churn/3", day, root=tmp_path))
    found = latest_day("churn/3", root=tmp_path)
    assert found.day == datetime.date(2026, 11, 27)
    served = ServingDay.read(found.requests.parent)
    assert len(served.requests) == 400 and len(served.feature_snapshot) == 400
    assert set(served.requests["model_version"]) == {"churn/3"}
    assert served.requests["timestamp"].dt.date.unique().tolist() == [found.day]
    assert check_health(pd.read_parquet(found.requests)).versions["churn/3"].requests == 400

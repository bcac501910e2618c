"""The evaluation report: a self-contained HTML page, checked as text and in a real Chromium.

The browser tests open the report in headless Debian Chromium (see conftest.py), move the
threshold slider and compare what the page shows with counts computed here with numpy.
"""

from __future__ import annotations

import html
import json
import pathlib
import re
import struct
import time
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from aimops.errors import InvalidInputError
from aimops.monitors.evaluation.binary import evaluate_binary
from aimops.monitors.reports.evaluation_page import notebook_html, render_report, write_report

EVIL = "</script><img src=x onerror=\"window.pwned = 'label'\">"
STAT_FIELDS = ("tp", "fp", "tn", "fn", "precision", "recall", "fpr")


def sample_data() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Labels and two models' scores, rounded to 0.01 so some scores sit on the thresholds."""
    rng = np.random.default_rng(20240611)
    labels = rng.integers(0, 2, 160)
    good = np.clip(0.45 * labels + 0.55 * rng.random(160), 0, 1).round(2)
    weak = np.clip(0.2 * labels + 0.8 * rng.random(160), 0, 1).round(2)
    return labels, good, weak


def expected_counts(
    labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], threshold: float
) -> dict[str, float]:
    """TP, FP, TN, FN, precision, recall and FPR; a score at or above ``threshold`` is positive."""
    predicted = scores >= threshold
    actual = labels == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    tn = int(np.sum(~predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn),
        "fpr": fp / (fp + tn),
    }


def embedded_data(page_html: str) -> Any:
    match = re.search(r'<script type="application/json" id="aimops-data">(.*?)</script>', page_html)
    assert match is not None
    return json.loads(match.group(1))


def fairness_doc(label: str = "fairness") -> dict[str, Any]:
    """A fairness document as aimops.monitors.evaluation.fairness writes it."""
    groups = [
        ("<b>group A</b>", 60, 30, 0.8, 0.2, 0.0, 1.0),
        ("group B", 40, 20, 0.6, 0.25, -0.2, 0.75),
    ]
    return {
        "kind": "fairness",
        "label": label,
        "n": 100,
        "weighted": False,
        "metrics": {"max_tpr_gap": 0.2},
        "attribute": "region",
        "threshold": 0.5,
        "groups": [
            {
                "group": group,
                "n": n,
                "positives": positives,
                "metrics": {"tpr": tpr, "fpr": fpr, "precision": None},
                "gaps": {"tpr": gap},
                "ratios": {"tpr": ratio},
            }
            for group, n, positives, tpr, fpr, gap, ratio in groups
        ],
        "reference": {"tpr": "<b>group A</b>"},
    }


def multiclass_doc() -> dict[str, Any]:
    matrix = [[5.0, 1.0, 0.0], [2.0, 6.0, 1.0], [0.0, 1.0, 4.0]]
    return {
        "kind": "multiclass",
        "label": "species",
        "n": 20,
        "weighted": False,
        "metrics": {"accuracy": 0.75, "macro_f1": 0.74},
        "classes": ["cat", "dog", "<eel>"],
        "confusion": {
            "labels": ["cat", "dog", "<eel>"],
            "matrix": matrix,
            "threshold": None,
            "actual": [6.0, 9.0, 5.0],
            "predicted": [7.0, 8.0, 5.0],
        },
        "per_class": [
            {
                "class": "cat",
                "precision": 0.71,
                "recall": 0.83,
                "f1": 0.77,
                "support": 6.0,
                "auroc": 0.9,
            },
            {
                "class": "dog",
                "precision": 0.75,
                "recall": 0.67,
                "f1": 0.71,
                "support": 9.0,
                "auroc": None,
            },
            {
                "class": "<eel>",
                "precision": 0.8,
                "recall": 0.8,
                "f1": 0.8,
                "support": 5.0,
                "auroc": 0.95,
            },
        ],
    }


def regression_doc() -> dict[str, Any]:
    return {
        "kind": "regression",
        "label": "price",
        "n": 50,
        "weighted": False,
        "metrics": {"rmse": 1.5, "mae": 1.125, "r2": 0.8},
        "residual_quantiles": {"0.05": -2.5, "0.5": 0.125, "0.95": 2.75},
    }


def comparison_doc(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [str(doc["label"]) for doc in evaluations]
    return {
        "kind": "comparison",
        "label": "v1 vs v2",
        "n": evaluations[0]["n"],
        "weighted": False,
        "metrics": {},
        "labels": labels,
        "baseline": labels[0],
        "method": "paired bootstrap",
        "confidence": 0.95,
        "deltas": [
            {
                "metric": "auroc",
                "version": labels[-1],
                "baseline": labels[0],
                "value": 0.9,
                "baseline_value": 0.85,
                "delta": 0.05,
                "ci_low": 0.01,
                "ci_high": 0.09,
                "p_value": 0.012,
                "winner": labels[-1],
            }
        ],
        "winners": {"auroc": labels[-1], "brier": None},
        "evaluations": evaluations,
    }


@pytest.fixture(scope="module")
def binary_pair() -> tuple[Any, Any]:
    labels, good, weak = sample_data()
    return (
        evaluate_binary(labels, good, label="model v1"),
        evaluate_binary(labels, weak, label=EVIL, threshold=0.4),
    )


# ---- The page as text --------------------------------------------------------------------


def test_user_strings_are_data_not_markup(binary_pair: tuple[Any, Any]) -> None:
    title = "Churn <b>models</b> & \u2028 friends"
    page_html = render_report(list(binary_pair), title=title)

    assert EVIL not in page_html
    assert "<img" not in page_html
    assert page_html.lower().count("</script") == 2  # the data's and the script's own ends
    assert f"<title>{html.escape(title)}</title>" in page_html
    data_text = page_html.split('id="aimops-data">', 1)[1].split("</script>", 1)[0]
    assert "\u2028" not in data_text
    assert "\\u2028" in data_text
    data = embedded_data(page_html)
    assert data["title"] == title
    assert [item["label"] for item in data["items"]] == ["model v1", EVIL]


def test_the_page_references_nothing_outside_itself(binary_pair: tuple[Any, Any]) -> None:
    page_html = render_report(list(binary_pair))

    assert "http://" not in page_html.lower()
    assert "https://" not in page_html.lower()
    assert re.search(r"<(link|img|iframe|object|embed)\b|<script[^>]*\bsrc=", page_html) is None
    assert "default-src 'none'" in page_html
    assert len(page_html) < 150_000


def test_results_and_documents_mix_and_bad_numbers_become_null(
    binary_pair: tuple[Any, Any],
) -> None:
    document = regression_doc()
    document["metrics"]["r2"] = float("nan")

    data = embedded_data(render_report([binary_pair[0], document, fairness_doc()]))

    assert [item["kind"] for item in data["items"]] == ["binary", "regression", "fairness"]
    assert data["items"][1]["metrics"]["r2"] is None


def _without(document: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    part = copy
    for key in path[:-1]:
        part = part[key]
    del part[path[-1]]
    return copy


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"kind": "histogram", "metrics": {}}], "item 0: unknown kind 'histogram'"),
        ([{"label": "no kind"}], "unknown kind None"),
        ([_without(regression_doc(), "residual_quantiles")], "missing 'residual_quantiles'"),
        ([regression_doc(), _without(fairness_doc(), "groups")], "item 1 (fairness): missing"),
        ([_without(multiclass_doc(), "confusion", "matrix")], "confusion: missing 'matrix'"),
        (
            [comparison_doc([{"kind": "binary", "label": "x", "n": 1}])],
            "item 0 evaluation 0 (binary): missing",
        ),
        (["a string"], "expected a result or a document"),
        ([42], "item 0: expected a result or a document (dict), got int"),
        ([], "at least one"),
        ([{"kind": "regression", "metrics": {}, "residual_quantiles": {1: object()}}], "object"),
    ],
)
def test_bad_documents_are_refused_with_what_is_wrong(items: list[Any], message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        render_report(items)
    assert message in str(caught.value)


def test_a_binary_document_needs_its_curves_and_table(binary_pair: tuple[Any, Any]) -> None:
    document = _without(binary_pair[0].to_dict(), "threshold_table", "tp")

    with pytest.raises(InvalidInputError, match=r"item 0 \(binary\) threshold_table: missing 'tp'"):
        render_report([document])


def test_write_report_writes_utf8_and_returns_the_path(
    binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    target = write_report(binary_pair[0], tmp_path / "report.html", title="Modèle \u00e9")

    assert target == tmp_path / "report.html"
    assert "<title>Modèle \u00e9</title>" in target.read_text(encoding="utf-8")


def test_a_report_is_replaced_whole_and_a_failed_write_keeps_the_old_one(
    binary_pair: tuple[Any, Any], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_report(binary_pair[0], tmp_path / "reports" / "report.html", title="first")
    first = target.read_bytes()
    with target.open("rb", buffering=0) as reader:  # someone reading the first report...
        start = reader.read(100)
        write_report(binary_pair[1], target, title="second")  # ...while it is rewritten
        assert start + reader.read() == first
    assert "<title>second</title>" in target.read_text(encoding="utf-8")

    def disk_full(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("aimops.monitors.reports.page.os.replace", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        write_report(binary_pair[0], target, title="third")
    assert "<title>second</title>" in target.read_text(encoding="utf-8")
    assert [path.name for path in target.parent.iterdir()] == ["report.html"]  # no leftovers


def test_a_result_shows_itself_in_a_notebook_as_an_isolated_frame(
    binary_pair: tuple[Any, Any],
) -> None:
    frame = binary_pair[1]._repr_html_()

    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts"[^>]*></iframe>', frame)
    assert match is not None
    assert "<" not in match.group(1)
    assert html.unescape(match.group(1)) == render_report(
        [binary_pair[1]], title=f"aimops evaluation report: {EVIL}"
    )
    assert re.search(r"height: \d+px", frame)


def test_notebook_html_takes_documents(binary_pair: tuple[Any, Any]) -> None:
    assert notebook_html([binary_pair[0].to_dict(), regression_doc()]).startswith("<iframe")
    with pytest.raises(InvalidInputError):
        notebook_html([{"kind": "nope"}])


# ---- The page in a real browser ----------------------------------------------------------


def png_facts(path: pathlib.Path) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the pixels hold (1 for a blank page)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        if data[position + 4 : position + 8] == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def assert_shows(page: Any, evaluation: int, expected: dict[str, float]) -> None:
    shown = page.outputs(evaluation, STAT_FIELDS)
    assert shown == pytest.approx(expected, abs=1e-12)
    for field in ("tp", "fp", "tn", "fn"):
        assert page.text_of(evaluation, field) == str(expected[field])
    assert page.text_of(evaluation, "precision") == f"{expected['precision']:.3f}"


@pytest.mark.slow
def test_the_threshold_slider_shows_the_right_counts(
    page: Any, binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    labels, good, weak = sample_data()
    path = write_report(list(binary_pair), tmp_path / "report.html", title="Churn <v1 vs v2>")

    page.open(path)

    assert page.console_errors() == []
    assert page.driver.title == "Churn <v1 vs v2>"
    assert page.driver.execute_script("return window.pwned === undefined")
    assert page.driver.execute_script("return document.querySelectorAll('img').length") == 0
    legend = page.driver.execute_script(
        "return [...document.querySelectorAll('.legend button')].map((b) => b.textContent)"
    )
    assert legend == ["model v1", EVIL]
    # each evaluation starts at its own threshold
    assert_shows(page, 0, expected_counts(labels, good, 0.5))
    assert_shows(page, 1, expected_counts(labels, weak, 0.4))
    assert page.text_of(1, "threshold-value") == "0.40"

    for threshold in (0.30, 0.70):
        page.set_threshold(0, threshold)  # thresholds move together by default
        assert_shows(page, 0, expected_counts(labels, good, threshold))
        assert_shows(page, 1, expected_counts(labels, weak, threshold))
        assert page.text_of(1, "threshold-value") == f"{threshold:.2f}"

    page.driver.find_element("id", "aimops-link-thresholds").click()
    page.set_threshold(1, 0.45)
    assert_shows(page, 0, expected_counts(labels, good, 0.70))
    assert_shows(page, 1, expected_counts(labels, weak, 0.45))

    at_45 = expected_counts(labels, weak, 0.45)
    cells = page.outputs(1, ("cell-0-0", "cell-0-1", "cell-1-0", "cell-1-1", "actual-0"))
    assert cells == {
        "cell-0-0": at_45["tn"],
        "cell-0-1": at_45["fp"],
        "cell-1-0": at_45["fn"],
        "cell-1-1": at_45["tp"],
        "actual-0": int(np.sum(labels == 0)),
    }
    marker = page.driver.execute_script(
        'const m = document.querySelector(\'svg[data-chart="roc"] circle[data-eval="1"]\');'
        "return [parseFloat(m.getAttribute('data-x')), parseFloat(m.getAttribute('data-y'))];"
    )
    assert marker == pytest.approx([at_45["fpr"], at_45["recall"]])
    assert page.console_errors() == []
    assert page.driver.execute_script("return performance.getEntriesByType('resource').length") == 0


@pytest.mark.slow
def test_charts_zoom_pan_reset_and_read_out(
    page: Any, binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    page.open(write_report(list(binary_pair), tmp_path / "report.html"))
    roc = page.driver.find_element("css selector", 'svg[data-chart="roc"]')
    home = page.chart_range("roc")
    assert home == pytest.approx((-0.02, 1.02, -0.02, 1.02))

    ActionChains(page.driver).scroll_from_origin(ScrollOrigin.from_element(roc), 0, -300).perform()
    zoomed = page.chart_range("roc")
    assert zoomed[1] - zoomed[0] < 0.8 * (home[1] - home[0])
    assert zoomed[3] - zoomed[2] < 0.8 * (home[3] - home[2])
    assert page.chart_range("pr") == pytest.approx(home)  # each chart zooms on its own

    ActionChains(page.driver).drag_and_drop_by_offset(roc, 60, 0).perform()
    panned = page.chart_range("roc")
    assert panned[0] < zoomed[0]
    assert panned[1] - panned[0] == pytest.approx(zoomed[1] - zoomed[0])

    ActionChains(page.driver).double_click(roc).perform()
    assert page.chart_range("roc") == pytest.approx(home)

    marker = page.driver.find_element("css selector", 'svg[data-chart="pr"] circle[data-eval="0"]')
    ActionChains(page.driver).move_to_element(marker).perform()
    readout = page.driver.find_element("css selector", '.readout[data-chart="pr"]').text
    assert readout.startswith("model v1: recall ")
    assert page.console_errors() == []


@pytest.mark.slow
def test_every_kind_of_document_draws_without_errors(
    page: Any, binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    first, second = (result.to_dict() for result in binary_pair)
    first["fairness"] = fairness_doc("by region")
    first["model_version"] = "urn:aim:modelVersion:churn/1"
    items = [comparison_doc([first, second]), multiclass_doc(), regression_doc()]
    path = write_report(items, tmp_path / "report.html")

    page.open(path)

    assert page.console_errors() == []
    sections = page.driver.execute_script(
        "return [...document.querySelectorAll('section h2')].map((h) => h.textContent)"
    )
    assert sections == [
        "Binary classification",
        "Comparison: v1 vs v2",
        "Fairness by region \u2014 model v1",
        "Multiclass classification",
        "Regression",
    ]
    text = page.driver.find_element("id", "aimops-report").text
    assert "<b>group A</b>" in text
    assert "[0.010, 0.090]" in text
    assert "no clear winner" in text
    assert "predicted <eel>" in text
    assert page.driver.execute_script("return document.querySelectorAll('b, eel').length") == 0
    shot = page.screenshot(tmp_path / "all-kinds.png")
    width, height, colours = png_facts(shot)
    assert width >= 1000 and height > 1500 and colours > 50


@pytest.mark.slow
def test_the_notebook_frame_draws_the_report(
    page: Any, binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><body>{binary_pair[0]._repr_html_()}</body>", "utf-8")

    page.driver.get(host.as_uri())
    page.driver.switch_to.frame(page.driver.find_element("tag name", "iframe"))
    try:
        deadline = time.monotonic() + 10
        while not page.driver.execute_script(
            "return document.getElementById('aimops-report').getAttribute('data-ready')"
        ):
            assert time.monotonic() < deadline, "the report in the frame did not draw"
            time.sleep(0.05)
        assert page.outputs(0, ("tp",))["tp"] == binary_pair[0].threshold_table.row(0.5)["tp"]
    finally:
        page.driver.switch_to.default_content()
    assert page.console_errors() == []


@pytest.mark.slow
def test_screenshot_of_the_report(
    page: Any, binary_pair: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    page.open(write_report(list(binary_pair), tmp_path / "report.html", title="Churn models"))
    page.set_threshold(0, 0.30)

    shot = page.screenshot(tmp_path / "report.png")

    width, height, colours = png_facts(shot)
    assert width >= 1000 and height > 1000
    assert colours > 50
    assert shot.stat().st_size > 30_000

"""A dashboard link stays the template's URL whatever the values hold, and a template fills
in plain placeholders only."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from aimops.errors import InvalidInputError
from aimops.monitors.checks.dashboards import dashboard_url

TEMPLATE = "https://grafana.example.com/d/serving?var-model={model}&var-run={run_id}"
HOSTILE = [
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "x&var-model=other#frag",
    "../../admin?x=1",
    "@evil.example.com/",
    "rtl\u202eexe",
    "nul\x00\r\n",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_changes_no_part_of_the_url_but_its_own(value: str) -> None:
    url = dashboard_url(TEMPLATE, model_version=f"{value}/3", extra={"run_id": value})

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "grafana.example.com",
        "/d/serving",
    )
    assert parts.fragment == ""
    assert [pair.split("=", 1)[0] for pair in parts.query.split("&")] == ["var-model", "var-run"]
    assert unquote(parts.query.split("&")[1].split("=", 1)[1]) == value
    assert not set(url) & set("<>\"' \x00\r\n\u202e")


@pytest.mark.parametrize(
    "template",
    ["https://d.example.com/{model:>999999999}", "https://d.example.com/{model!r}"],
)
def test_a_placeholder_that_formats_its_value_is_refused(template: str) -> None:
    with pytest.raises(InvalidInputError, match=r"formats model: a placeholder is a plain"):
        dashboard_url(template, model_version="churn/3")

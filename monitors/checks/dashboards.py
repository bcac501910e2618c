"""Links from a health check to the team's own dashboards, from a URL template.

A template is a URL with ``{placeholders}``, filled in with the model version and the time
window the check looked at, e.g. a Grafana panel::

    https://grafana.example.com/d/serving?var-model={model}&var-version={version}&from={start_ms}&to={end_ms}

Placeholders: ``model``, ``version``, ``model_version`` (``name/version``), ``start`` and
``end`` (ISO 8601, UTC), ``start_ms`` and ``end_ms`` (milliseconds since the epoch, as
Grafana's ``from``/``to`` take them), and any extra value the caller passes (the operators
pass ``dag_id``, ``run_id`` and ``task_id``). Every value is percent-encoded, so that no value
can change the URL's structure, and a placeholder is a plain ``{name}`` (no ``!r``, no format
spec). The template comes from the operator's ``dashboard_url_template``, else
``$AIMOPS_DASHBOARD_URL_TEMPLATE``; only an http(s) URL is one.

Example:
    >>> from datetime import UTC, datetime
    >>> dashboard_url(
    ...     "https://grafana.example.com/d/s?var-model={model}&from={start_ms}&to={end_ms}",
    ...     model_version="churn/3",
    ...     window=(datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)),
    ... )
    'https://grafana.example.com/d/s?var-model=churn&from=1795651200000&to=1795737600000'
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from aimops.errors import InvalidInputError

TEMPLATE_ENV = "AIMOPS_DASHBOARD_URL_TEMPLATE"


def dashboard_template(given: str | None = None) -> str | None:
    """The template to use: ``given``, else ``$AIMOPS_DASHBOARD_URL_TEMPLATE``; None if neither."""
    chosen = (given or os.environ.get(TEMPLATE_ENV, "")).strip()
    return chosen or None


def dashboard_url(
    template: str,
    *,
    model_version: str | None = None,
    window: tuple[datetime, datetime] | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """``template`` filled in (see the module docstring). Raises
    :class:`~aimops.errors.InvalidInputError` naming a placeholder it cannot fill or that
    formats its value, or for a template that is not an http(s) URL."""
    if not template.startswith(("http://", "https://")):
        raise InvalidInputError(f"a dashboard URL template is an http(s) URL, not {template!r}")
    values = dict(extra or {})
    if model_version is not None:
        model, _, version = model_version.rpartition("/")
        values.update(model=model or model_version, version=version, model_version=model_version)
    if window is not None:
        start, end = (_utc(moment) for moment in window)
        values.update(
            start=start.isoformat().replace("+00:00", "Z"),
            end=end.isoformat().replace("+00:00", "Z"),
            start_ms=str(int(start.timestamp() * 1000)),
            end_ms=str(int(end.timestamp() * 1000)),
        )
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # a lone { or }
        raise InvalidInputError(
            f"the dashboard URL template {template!r} is malformed: {exc}"
        ) from None
    formatted = [field for _, field, spec, conversion in parsed if spec or conversion]
    if formatted:  # "{model:>999999999}" would fill memory; "{model!r}" adds quotes
        raise InvalidInputError(
            f"the dashboard URL template {template!r} formats {formatted[0]}: a placeholder "
            "is a plain {name}, filled in percent-encoded"
        )
    wanted = [field for _, field, _, _ in parsed if field is not None]
    missing = sorted({field for field in wanted if field not in values})
    if missing:
        raise InvalidInputError(
            f"the dashboard URL template names {', '.join(missing)}, which this check cannot "
            f"fill; it knows {', '.join(sorted(values)) or 'nothing'}"
        )
    return template.format_map({name: quote(str(value), safe="") for name, value in values.items()})


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

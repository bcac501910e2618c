"""What every webhook POST of aimops shares: showing its URL safely, and sending it.

The path and query of a Slack, Teams or Mattermost webhook URL are themselves the secret, and
a URL may carry a user and password: messages and logs name a webhook by
``scheme://host[:port]`` only (:func:`redacted_url`), and an error text is scrubbed of the
secret parts before anyone sees it (:func:`scrubbed`). A user and password in the URL are sent
as HTTP basic authentication (:func:`request_target`), and no redirect is followed
(:class:`RefuseRedirects`: a POST would turn into a GET, or carry the credentials elsewhere).
The alerts (:mod:`aimops.monitors.checks.alerts`) and the webhook traffic router
(:mod:`aimops.metadata.lifecycle.routers`) both POST through these.

Example:
    >>> redacted_url("https://bot:s3cret@hooks.example.com:8443/services/T0/B0/XyZ?token=1")
    'https://hooks.example.com:8443'
    >>> request_target("https://bot:pw@hooks.example.com/x", "aimops-alerts")[1]["Authorization"]
    'Basic Ym90OnB3'
"""

from __future__ import annotations

import base64
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


def redacted_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, password, path, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = _port(url)
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def request_target(url: str, agent: str) -> tuple[str, dict[str, str]]:
    """The URL without its user and password, and the JSON POST's headers (basic auth from
    them; ``agent`` as the User-Agent)."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": agent}
    if parts.username is None and parts.password is None:
        return url, headers
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers["Authorization"] = f"Basic {token}"
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), headers


def scrubbed(text: str, url: str, limit: int) -> str:
    """``text`` without the webhook URL or its secret parts (password, path, query), cut to
    ``limit`` characters."""
    parts = urlsplit(url)
    for whole in (url, request_target(url, "")[0]):
        text = text.replace(whole, redacted_url(url))
    for secret in (parts.password, parts.query, parts.path if len(parts.path) > 1 else None):
        if secret:
            text = text.replace(secret, "***")
    return text[:limit]


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib then raises HTTPError with the 3xx status."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

"""What every aimops HTML page shares: the shell, its Content-Security-Policy, its file name
and how it is written.

Every page (an evaluation's interactive report, a check's static page) is one self-contained
file: its styles and scripts inline, and a Content-Security-Policy meta tag that allows
exactly those, by their hashes, and nothing else, so the page makes no request at all.
Every user string a page shows goes through :func:`text_html`: escaped, and with the characters
a reader cannot see or that rearrange what follows (controls, bidirectional overrides, lone
surrogates, private use) shown as their escapes, as the CLI shows them (:func:`visible_text`).
:func:`report_path` names the file a recorded entity's page is written to (a readable name
from its URN and a short hash of the whole URN, so that two entities never share a file), and
:func:`write_text_atomically` writes it in one step.

Example:
    >>> page = html_page(title="Nightly <drift>", body="<p>ok</p>", css="p { color: red; }")
    >>> "<title>Nightly &lt;drift&gt;</title>" in page, "script-src" in page
    (True, False)
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import pathlib
import secrets
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aimops import __version__, validation

if TYPE_CHECKING:
    from aimops.metadata.urns import Urn

_SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aimops {version}">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
{body}
{scripts}</body>
</html>
"""


def html_page(*, title: str, body: str, css: str, scripts: Sequence[str] = ()) -> str:
    """A whole page: ``title`` (escaped here), ``body`` (HTML as it is), the stylesheet
    ``css`` and inline ``scripts``, with the policy that allows exactly those."""
    return _SHELL.format(
        policy=html.escape(content_security_policy(css, scripts), quote=False),  # in "..."
        version=html.escape(__version__),
        title=text_html(title),
        css=css,
        body=body,
        scripts="".join(f"<script>\n{script}\n</script>\n" for script in scripts),
    )


#: Unicode categories shown as escapes, never acted on: controls (NUL, escape sequences,
#: newlines), format characters (bidirectional overrides, zero-width ones), surrogates (a lone
#: one cannot even be written as UTF-8) and private use; the CLI's set
#: (:func:`aimops.output.printable`), the report's script has the same (``visible``).
_ACTIVE = frozenset({"Cc", "Cf", "Cs", "Co"})


def visible_text(text: str) -> str:
    """``text`` with every character a reader could not see, or that would rearrange the text
    around it, shown as its escape (``\\x00``, ``\\u202e``, ``\\ud800``).

    Example:
        >>> print(visible_text("churn\\u202e1v"))
        churn\\u202e1v
    """
    if text.isprintable():
        return text
    return "".join(
        char.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(char) in _ACTIVE
        else char
        for char in text
    )


def text_html(value: object) -> str:
    """``value`` as text in a page: made visible (:func:`visible_text`), then escaped, quotes
    included, so it is inert in an element and in a quoted attribute alike.

    Example:
        >>> print(text_html('<img src=x onerror="go()">\\x00'))
        &lt;img src=x onerror=&quot;go()&quot;&gt;\\x00
    """
    return html.escape(visible_text(str(value)), quote=True)


def content_security_policy(css: str, scripts: Sequence[str] = ()) -> str:
    """Only the page's own stylesheet and scripts: no requests, no injected handlers.

    Example:
        >>> content_security_policy("p { color: red; }").split("; ")[0]
        "default-src 'none'"
    """
    script = f"script-src {' '.join(source_hash(s) for s in scripts)}; " if scripts else ""
    return (
        f"default-src 'none'; {script}style-src {source_hash(css)}; "
        "base-uri 'none'; form-action 'none'"
    )


def source_hash(asset: str) -> str:
    """The CSP source of an inline script or style as the page holds it: alone on the lines
    between its element's tags, as in ``<style>``, newline, ``asset``, newline, ``</style>``.

    Example:
        >>> source_hash("p { color: red; }")
        "'sha256-XxvrM48FJp9Q9CKKVzvjpKLTjEE/BNuwCcFF7gzbnGM='"
    """
    digest = hashlib.sha256(f"\n{asset}\n".encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def reports_folder(report_dir: str | os.PathLike[str]) -> pathlib.Path:
    """``report_dir``, or ``$AIMOPS_HOME/reports`` for ``"default"``."""
    from aimops.settings import default_reports_dir

    return default_reports_dir() if report_dir == "default" else pathlib.Path(report_dir)


def report_path(
    report_dir: str | os.PathLike[str], urn: Urn, report: str | None = None
) -> pathlib.Path:
    """Where the page of the entity ``urn`` (or, with ``report``, another of its reports such as
    ``evidently``) is written under ``report_dir`` (``"default"``: ``$AIMOPS_HOME/reports``): the
    entity's type, a readable name from the URN's key and a short hash of the whole URN.

    Example:
        >>> from aimops.metadata.urns import Urn
        >>> report_path("/reports", Urn.parse("urn:aim:check:nightly/drift"), "evidently").name
        'check-nightly-drift-77306661-evidently.html'
    """
    name = "-".join(segment.replace("/", "_") for segment in urn.segments)
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._")
    digest = hashlib.sha256(str(urn).encode()).hexdigest()[:8]
    suffix = f"-{report}" if report else ""
    folder = reports_folder(report_dir)
    return folder / f"{urn.type}-{cleaned[:120] or urn.type}-{digest}{suffix}.html"


def write_text_atomically(path: str | os.PathLike[str], text: str) -> pathlib.Path:
    """Write ``text`` (UTF-8) to ``path`` in one step, making its folders; return the path.

    The text goes to a temporary file beside ``path``, which then replaces it (``os.replace``):
    readers see the old file or the new one, never half of one, and a failed write leaves the
    old file as it was and no temporary file behind.

    A ``path`` that cannot name a file (not a path, empty, too long, a folder) is an
    :class:`~aimops.errors.InvalidInputError` naming it; the file system's other refusals (no
    permission, a full disk) stay ``OSError``.

    Example:
        >>> import tempfile
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "pages" / "page.html"
        >>> write_text_atomically(target, "<p>hello</p>").read_text(encoding="utf-8")
        '<p>hello</p>'
    """
    target = validation.file_path(path, "the page's path")
    with validation.usable_path(target, "the page's path"):
        target.parent.mkdir(parents=True, exist_ok=True)
        # the name's start only: a name near the file system's limit must still get one
        partial = target.with_name(f".{target.name[:64]}.{secrets.token_hex(6)}.tmp")
        file = partial.open("x", encoding="utf-8")  # a new file, with the usual permissions
        try:
            with file:
                file.write(text)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return target

"""Routers: what makes the serving layer follow the traffic weights the AIM store records.

A deployment (a model in an environment) has weights ``{version: percent}`` that the store
records with a ``revision``; a router applies them. Built in: ``file`` (:class:`FileRouter`,
the default: one JSON file per deployment, replaced atomically, for a serving layer to read)
and ``webhook`` (:class:`WebhookRouter`: a JSON POST). Others plug in through the
entry-point group ``aimops.routers``; :func:`resolve_router` finds them by name.

Example:
    >>> import tempfile
    >>> router = FileRouter(tempfile.mkdtemp())
    >>> state = TrafficState("churn", "production", {"3": 95, "4": 5}, champion="3",
    ...                      revision=7, updated_at="2025-01-01T00:00:00Z")
    >>> router.apply(state)
    >>> router.current("churn", "production") == state
    True
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import logging
import numbers
import operator
import os
import re
import secrets
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aimops import validation
from aimops.errors import AimopsError, ConfigurationError, InvalidInputError
from aimops.errors import RouterUnavailableError as Unavailable
from aimops.settings import aimops_home
from aimops.webhooks import RefuseRedirects, redacted_url, request_target, scrubbed

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

#: The entry-point group where routers register by name (a class taking no arguments).
ROUTER_ENTRY_POINTS = "aimops.routers"
ROUTER_ENV = "AIMOPS_ROUTER"  #: the router's name when none is given (else ``file``)
TRAFFIC_DIR_ENV = "AIMOPS_TRAFFIC_DIR"  #: the file router's folder (else ``$AIMOPS_HOME/traffic``)
ROUTER_WEBHOOK_ENV = "AIMOPS_ROUTER_WEBHOOK"  #: the webhook router's URL
#: HTTP statuses that mean "later" (besides 5xx); another 4xx or a redirect means a wrong URL.
RETRY_STATUSES = frozenset({408, 425, 429})
_METHODS = ("check", "apply", "current")


@dataclass(frozen=True)
class TrafficState:
    """The traffic of one deployment: ``weights`` (``{version: percent}`` summing to 100, or
    ``{}`` when nothing serves), the ``champion`` version, the store's ``revision`` (one more
    with every change it records), when it changed (ISO 8601, UTC) and the active ``ramp``'s
    URN. Checked when made: InvalidInputError names the field.

    Example:
        >>> state = TrafficState("churn", "production", {3: 95, "4": 5, "2": 0}, champion=3,
        ...                      revision=7, updated_at="2025-01-01T00:00:00Z")
        >>> state.weights, state.champion
        ({'3': 95, '4': 5}, '3')
        >>> TrafficState.from_dict(state.to_dict()) == state
        True
    """

    model: str
    environment: str
    weights: dict[str, int]
    champion: str | None
    revision: int
    updated_at: str
    ramp: str | None = None

    def __post_init__(self) -> None:
        """Check every field; versions given as whole numbers become text."""
        validation.text(self.model, "the traffic state's model", empty=False, nul=False)
        validation.text(self.environment, "the traffic state's environment", empty=False, nul=False)
        object.__setattr__(self, "weights", check_weights(self.weights))
        if self.champion is not None:
            object.__setattr__(self, "champion", _version(self.champion, "the champion"))
        revision = validation.whole_number(self.revision, "the traffic state's revision", minimum=1)
        object.__setattr__(self, "revision", revision)
        _check_utc_time(self.updated_at)
        ramp = None if self.ramp is None else _ramp_urn(self.ramp, self.model, self.environment)
        object.__setattr__(self, "ramp", ramp)

    def to_dict(self) -> dict[str, Any]:
        """The state as a JSON-ready dict, keyed by the field names."""
        document = {f.name: getattr(self, f.name) for f in fields(self)}
        return document | {"weights": dict(self.weights)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrafficState:
        """The state ``data`` (a :meth:`to_dict`) describes; InvalidInputError names a field
        that is missing or wrong. Keys it does not know (a webhook's ``text``) are ignored."""
        validation.mapping(data, "a traffic state")
        missing = [f.name for f in fields(cls) if f.name != "ramp" and f.name not in data]
        if missing:
            raise InvalidInputError(f"a traffic state needs the field(s) {', '.join(missing)}")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def check_weights(weights: Mapping[Any, Any]) -> dict[str, int]:
    """``weights`` as ``{version: percent}`` when they can route traffic: versions non-empty
    text (a whole number is taken as its text), percents whole numbers from 0 to 100 (no
    bools, no floats) summing to exactly 100; zero entries are dropped. An empty mapping
    means nothing serves. InvalidInputError names the problem otherwise.

    Example:
        >>> check_weights({3: 95, "4": 5, "5": 0})
        {'3': 95, '4': 5}
        >>> check_weights({"3": 60, "4": 30})
        Traceback (most recent call last):
        ...
        aimops.errors.InvalidInputError: weights must sum to 100, not 90 ({"3": 60, "4": 30})
    """
    if not isinstance(weights, Mapping):
        raise InvalidInputError(
            "weights must be a mapping of version to percent ({'3': 95, '4': 5}), not "
            f"{type(weights).__name__} {validation.shown(weights)}"
        )
    checked: dict[str, int] = {}
    seen: set[str] = set()
    for key, value in weights.items():
        version = _version(key, "a version in weights")
        if version in seen:
            raise InvalidInputError(f"version {version} is given twice in weights")
        seen.add(version)
        if percent := _percent(version, value):
            checked[version] = percent
    total = sum(checked.values())
    if weights and total != 100:
        shown = json.dumps({str(key): value for key, value in weights.items()}, default=repr)
        shown = shown if len(shown) <= 200 else f"{shown[:200]}..."
        empty = "" if total else "; give {} when nothing serves"
        raise InvalidInputError(f"weights must sum to 100, not {total} ({shown}){empty}")
    return checked


def _version(value: Any, what: str) -> str:
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be text or a whole number, not bool {value!r}")
    version = validation.text(validation.key_segment(value, what), what, nul=False)
    if version != version.strip():
        raise InvalidInputError(f"{what} must not start or end with blanks: {version!r}")
    return version


def _percent(version: str, value: Any) -> int:
    rule = "weights are whole percents from 0 to 100"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        shown = f"{validation.shown(value)} ({type(value).__name__})"
        raise InvalidInputError(f"weight of version {version} is {shown}: {rule}")
    percent = operator.index(value)
    if not 0 <= percent <= 100:
        raise InvalidInputError(f"weight of version {version} is {percent}: {rule}")
    return percent


def _check_utc_time(value: Any) -> None:
    try:
        moment = datetime.fromisoformat(validation.text(value, "updated_at"))
        if moment.utcoffset() not in (None, timedelta(0)):
            raise ValueError("not in UTC")
    except ValueError:  # InvalidInputError too
        raise InvalidInputError(
            "the traffic state's updated_at must be an ISO 8601 time in UTC such as "
            f"2025-01-01T00:00:00Z, not {validation.shown(value)}"
        ) from None


def _ramp_urn(value: Any, model: str, environment: str) -> str:
    from aimops.metadata.urns import Urn

    what = f"the traffic state's ramp (a ramp of {model}/{environment})"
    try:
        urn = Urn.parse(value)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what} must be a ramp URN: {exc}") from exc
    if urn.type != "ramp" or tuple(urn.segments[:2]) != (model, environment):
        raise InvalidInputError(f"{what} must be urn:aim:ramp:{model}/{environment}/<n>: {urn}")
    return str(urn)


def _summary(state: TrafficState) -> str:
    """One line for people, the champion first: ``churn/production: 3=95%, 4=5% (revision 7)``."""
    order = sorted(state.weights, key=lambda version: version != state.champion)
    shares = ", ".join(f"{v}={state.weights[v]}%" for v in order) or "nothing serves"
    return f"{state.model}/{state.environment}: {shares} (revision {state.revision})"


class Router(Protocol):
    """Applies traffic weights to a serving layer: ``check`` raises ConfigurationError when
    ``apply`` would fail for a deployment (changing nothing anyone sees), ``apply`` makes the
    serving layer follow a state, ``current`` is the state applied last (None: unknown). A
    class taking no arguments in the ``aimops.routers`` entry-point group is known by name.

    Example:
        >>> import tempfile
        >>> router: Router = FileRouter(tempfile.mkdtemp())
        >>> router.name, router.current("churn", "production")
        ('file', None)
    """

    name: str

    def check(self, model: str, environment: str) -> None: ...

    def apply(self, state: TrafficState) -> None: ...

    def current(self, model: str, environment: str) -> TrafficState | None: ...


class FileRouter:
    """Writes each deployment's traffic to ``<root>/<model>/<environment>.json`` (the state's
    :meth:`~TrafficState.to_dict`, sorted keys, indented), for a serving layer to read.

    ``root`` defaults to ``$AIMOPS_TRAFFIC_DIR``, else ``$AIMOPS_HOME/traffic``. The file is
    replaced atomically (a temporary file in the same folder, synced, renamed onto it, the
    folder synced): a reader sees the old document or the new one, whole. Temporary files,
    ``.<environment>.json.<host>.<pid>.<random>.tmp``, are hidden and never the file a reader
    opens; a failed write removes its own, and the next :meth:`apply` to the file removes
    those of this host's writers that died (killed mid-write). Writers of one file take
    turns through a lock file beside it (``.<environment>.json.lock``, left in place).

    A state with a lower revision than the file's is ignored (and logged): a late writer (a
    retried task, a replay) never undoes a newer change. A state equal to the file's leaves
    it untouched. A corrupt file is replaced: the store, not the file, is the record.

    Example:
        >>> import tempfile
        >>> router = FileRouter(tempfile.mkdtemp())
        >>> router.path("churn", "production").relative_to(router.root).as_posix()
        'churn/production.json'
    """

    name = "file"

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            root = os.environ.get(TRAFFIC_DIR_ENV, "").strip() or aimops_home() / "traffic"
        self.root: Path = validation.file_path(root, "the traffic folder (root)").expanduser()

    def path(self, model: str, environment: str) -> Path:
        """The traffic file of ``model`` in ``environment``, each a plain name (InvalidInputError
        otherwise).

        Example:
            >>> FileRouter("/srv/traffic").path("churn", "../etc")
            Traceback (most recent call last):
            ...
            aimops.errors.InvalidInputError: environment must be a plain name (no '/', '\\\\', \
'.' or '..'), not '../etc'
        """
        return self.root / _segment(model, "model") / f"{_segment(environment, 'environment')}.json"

    def check(self, model: str, environment: str) -> None:
        """ConfigurationError, naming the file and the reason, when :meth:`apply` could not
        write the traffic file of ``model`` in ``environment``. Creates nothing.

        Example:
            >>> import tempfile
            >>> FileRouter(tempfile.mkdtemp()).check("churn", "production")
        """
        target = self.path(model, environment)
        if target.is_dir():
            raise ConfigurationError(f"cannot write the traffic file {target}: it is a folder")
        folder = target.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise ConfigurationError(f"cannot write the traffic file {target}: {folder} is a file")
        try:  # O_TMPFILE where the system has it: a file nobody sees, gone when closed
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise _unusable(target, exc) from exc

    def apply(self, state: TrafficState) -> None:
        """Write ``state`` to its traffic file atomically, unless the file has a newer
        revision. ConfigurationError names the file and the reason when it cannot be written.

        Example:
            >>> import tempfile
            >>> router = FileRouter(tempfile.mkdtemp())
            >>> router.apply(TrafficState("churn", "production", {"3": 100}, "3", 2,
            ...                           "2025-01-01T00:00:00Z"))
            >>> router.apply(TrafficState("churn", "production", {}, None, 1,
            ...                           "2024-12-31T00:00:00Z"))
            >>> router.current("churn", "production").weights
            {'3': 100}
        """
        target = self.path(_state(state).model, state.environment)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _turn(target):
                if not self._holds(target, state):
                    _replace(target, _document(state))
                    _remove_orphans(target)
        except OSError as exc:
            raise _unusable(target, exc) from exc

    def current(self, model: str, environment: str) -> TrafficState | None:
        """The state in the traffic file of ``model`` in ``environment``, None when there is
        no such file; ConfigurationError names a file that cannot be read or is corrupt."""
        target = self.path(model, environment)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _unusable(target, exc, "read") from exc
        try:
            state = TrafficState.from_dict(json.loads(data))
            if (state.model, state.environment) != (model, environment):
                raise ValueError(f"it holds {state.model}/{state.environment}")
        except (ValueError, AimopsError) as exc:  # JSON, UTF-8 and field errors
            raise ConfigurationError(
                f"the traffic file {target} is corrupt ({str(exc)[:200]}): fix or remove it, "
                "or apply a state to replace it"
            ) from exc
        return state

    def _holds(self, target: Path, state: TrafficState) -> bool:
        """Whether the file already has ``state`` or a newer revision."""
        try:
            held = self.current(state.model, state.environment)
        except ConfigurationError as exc:
            log.warning("replacing the unreadable traffic file %s: %s", target, exc)
            return False
        if held is not None and held.revision > state.revision:
            log.warning(
                "not writing revision %d of %s/%s: %s already has revision %d",
                state.revision, state.model, state.environment, target, held.revision,
            )  # fmt: skip
            return True
        return held == state


def _state(state: Any) -> TrafficState:
    if not isinstance(state, TrafficState):
        raise InvalidInputError(
            f"a router applies a TrafficState, not {type(state).__name__} {validation.shown(state)}"
        )
    return state


def _segment(value: Any, what: str) -> str:
    name = validation.text(value, what, empty=False, nul=False)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInputError(
            f"{what} must be a plain name (no '/', '\\\\', '.' or '..'), not {name!r}"
        )
    return name


def _unusable(target: Path, exc: OSError, doing: str = "write") -> ConfigurationError:
    """The system's reason, and the path it concerns (the file, or a folder on its way)."""
    reason = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return ConfigurationError(f"cannot {doing} the traffic file {target}: {reason}")


def _document(state: TrafficState) -> bytes:
    return (json.dumps(state.to_dict(), sort_keys=True, indent=2) + "\n").encode("utf-8")


@contextlib.contextmanager
def _turn(target: Path) -> Iterator[None]:
    """Hold the lock of ``target``'s writers (none where the system has no ``flock``)."""
    if sys.platform == "win32":
        yield
        return
    descriptor = os.open(target.with_name(f".{target.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):  # a file system without locks: best effort
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


@cache
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _replace(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, sync it, rename it onto
    ``target`` and sync the folder; the temporary file is removed on any failure."""
    temporary = target.with_name(
        f".{target.name}.{_host()}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    )
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if sys.platform != "win32":  # a folder cannot be opened there, and needs no sync
        descriptor = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        except OSError as exc:  # some file systems cannot sync a folder
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
                raise
        finally:
            os.close(descriptor)


def _remove_orphans(target: Path) -> None:
    """Remove the temporary files of ``target`` that this host's writers left when they
    died (their process is gone); another host's, or a live writer's, stay."""
    if sys.platform == "win32":  # os.kill would end the process there, not probe it
        return
    prefix, mine = f".{target.name}.{_host()}.", os.getpid()
    with os.scandir(target.parent) as entries:
        names = [entry.name for entry in entries if entry.name.startswith(prefix)]
    for name in names:
        pid, _, rest = name[len(prefix) :].partition(".")
        if pid.isdigit() and rest.endswith(".tmp") and int(pid) != mine and _gone(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target.parent / name)
            log.info("removed %s, left by a writer that died", target.parent / name)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 asks whether the process exists, and sends nothing
    except ProcessLookupError:
        return True
    except OSError:  # another user's process (EPERM), or a pid out of range
        pass
    return False


class WebhookRouter:
    """POSTs each state as JSON: :meth:`TrafficState.to_dict` plus ``text``, a line for people
    (``churn/production: 3=95%, 4=5% (revision 7)``; what chat webhooks show).

    ``url`` defaults to ``$AIMOPS_ROUTER_WEBHOOK``; only http(s) URLs with a host are taken
    (ConfigurationError). A user and password in the URL go as basic authentication. Messages
    name the webhook by ``scheme://host[:port]`` only: a chat webhook's path is its secret.
    No answer in ``timeout`` seconds, a refused connection, or 5xx, 408, 425 or 429 raise
    RouterUnavailableError (transient: a task retries); a redirect (not followed) or another
    4xx, ConfigurationError. :meth:`current` is None: a webhook cannot say what it holds.

    Example:
        >>> router = WebhookRouter("https://bot:pw@hooks.example.com/T0/B0/s3cret")
        >>> router, router.current("churn", "production")
        (WebhookRouter('https://hooks.example.com'), None)
        >>> WebhookRouter("ftp://files.example.com/hook")
        Traceback (most recent call last):
        ...
        aimops.errors.ConfigurationError: the webhook router needs an http or https URL, not 'ftp'
    """

    name = "webhook"

    def __init__(self, url: str | None = None, *, timeout: float = 10.0) -> None:
        if url is not None and not isinstance(url, str):  # not shown: it may hold a secret
            raise InvalidInputError(f"the webhook URL must be text, not {type(url).__name__}")
        self._url = _webhook_url(os.environ.get(ROUTER_WEBHOOK_ENV, "") if url is None else url)
        self.timeout = validation.real_number(timeout, "timeout", minimum=0.001)

    def __repr__(self) -> str:
        return f"WebhookRouter({redacted_url(self._url)!r})"

    def check(self, model: str, environment: str) -> None:
        """Nothing to ask: the URL was checked when the router was made.

        Example:
            >>> WebhookRouter("https://hooks.example.com/x").check("churn", "production")
        """
        validation.text(model, "model", empty=False)
        validation.text(environment, "environment", empty=False)

    def apply(self, state: TrafficState) -> None:
        """POST ``state``; RouterUnavailableError or ConfigurationError (see the class) when
        the webhook does not take it.

        Example:
            >>> WebhookRouter("https://hooks.example.com/x").apply({"3": 100})
            Traceback (most recent call last):
            ...
            aimops.errors.InvalidInputError: a router applies a TrafficState, not dict {'3': 100}
        """
        body = json.dumps({**_state(state).to_dict(), "text": _summary(state)}).encode("utf-8")
        target, headers = request_target(self._url, "aimops-router")
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        where, what = redacted_url(self._url), f"{state.model}/{state.environment}"
        try:
            opener = urllib.request.build_opener(RefuseRedirects())
            with opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            said = f"HTTP {exc.code} {_scrub(str(exc.reason), self._url)}".strip()
            if 300 <= exc.code < 400:
                raise ConfigurationError(
                    f"the webhook router {where} answered the traffic of {what} with a redirect "
                    f"({said}), which is not followed: configure the URL it points to"
                ) from None
            error = Unavailable if exc.code >= 500 or exc.code in RETRY_STATUSES else None
            raise (error or ConfigurationError)(
                f"the webhook router {where} {'failed' if error else 'refused'} revision "
                f"{state.revision} of {what}: {said}"
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, cut off
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            said = _scrub(f"{type(reason).__name__}: {reason}", self._url)
            raise Unavailable(f"the webhook router could not reach {where}: {said}") from None

    def current(self, model: str, environment: str) -> TrafficState | None:
        """None: a webhook cannot say what it holds."""
        return None


def _webhook_url(url: str) -> str:
    parts = urlsplit(url := url.strip())
    if not url:
        raise ConfigurationError(
            f"the webhook router needs a URL: pass url= or set ${ROUTER_WEBHOOK_ENV}"
        )
    if parts.scheme.lower() not in ("http", "https"):
        shown = repr(parts.scheme) if parts.scheme else "a URL without a scheme"
        raise ConfigurationError(f"the webhook router needs an http or https URL, not {shown}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ConfigurationError(
            f"the webhook URL {parts.scheme}://{parts.hostname} has no valid port number"
        ) from None
    if not parts.hostname:
        raise ConfigurationError(f"the webhook URL {redacted_url(url)} names no host")
    return url


_BUILT_IN: dict[str, type[Any]] = {"file": FileRouter, "webhook": WebhookRouter}


def resolve_router(router: Router | str | None = None) -> Router:
    """The router to use: ``router`` itself when it has ``check``, ``apply`` and
    ``current``; for a name, the class registered under it in the ``aimops.routers``
    entry-point group, made with no arguments; for None, the name in ``$AIMOPS_ROUTER``,
    else ``file``. ConfigurationError lists the known names for an unknown one.

    Example:
        >>> resolve_router("file").name
        'file'
        >>> resolve_router("carrier-pigeon")
        Traceback (most recent call last):
        ...
        aimops.errors.ConfigurationError: no router is registered as 'carrier-pigeon' ...
    """
    if router is None:
        router = os.environ.get(ROUTER_ENV, "").strip() or "file"
    if isinstance(router, str):
        return _named_router(validation.text(router.strip(), "a router name", empty=False))
    if all(callable(getattr(router, method, None)) for method in _METHODS):
        return router
    raise InvalidInputError(
        "router must be a router name, or an object with check, apply and current, not "
        f"{type(router).__name__} {validation.shown(router)}"
    )


def _named_router(name: str) -> Router:
    points = {point.name: point for point in entry_points(group=ROUTER_ENTRY_POINTS)}
    if name in points:
        try:
            loaded = points[name].load()
        except Exception as exc:  # another package's broken plugin
            raise ConfigurationError(
                f"the router {name!r} ({points[name].value}) cannot be loaded: {exc}"
            ) from exc
    elif name in _BUILT_IN:  # no distribution metadata (a bare checkout, a vendored copy)
        loaded = _BUILT_IN[name]
    else:
        raise ConfigurationError(
            f"no router is registered as {name!r} in {ROUTER_ENTRY_POINTS!r}; known: "
            f"{', '.join(sorted(set(points) | set(_BUILT_IN)))} (set ${ROUTER_ENV} or pass router=)"
        )
    try:
        found = loaded() if isinstance(loaded, type) else loaded
    except TypeError as exc:  # a class that needs arguments
        message = f"the router {name!r} cannot be made without arguments: {exc}"
        raise ConfigurationError(message) from exc
    if not all(callable(getattr(found, method, None)) for method in _METHODS):
        raise ConfigurationError(
            f"the router {name!r} registered in {ROUTER_ENTRY_POINTS!r} gives "
            f"{validation.shown(found)}, which has no check, apply and current"
        )
    return found  # type: ignore[no-any-return]


def _scrub(text: str, url: str) -> str:
    return scrubbed(text, url, 300)

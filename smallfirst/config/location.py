"""Where an endpoint is: the one place that decides whether data sent to it stays on this host.

The answer comes from the endpoint's effective URL (``base_url``, else the backend's default URL),
never from the backend's name:

* an in-process backend (``embedded``; ``fake`` without a URL), a loopback host (127.0.0.0/8, ::1,
  ``localhost``) or a unix socket URL (``unix:…``, ``http+unix://…``) is **on this host** — location
  ``local`` (``location = "host"`` is an alias for it);
* any other host is ``remote`` unless the config declares a location (``site`` for a machine on your
  own network, or a region such as ``eu``); a declared location other than local never counts as
  local, also on a loopback URL (a tunnel or proxy to a remote API);
* ambiguous hosts — an unparseable URL, ``0.0.0.0`` / ``::``, a bare name without dots, a numeric
  host that is not a canonical IP — fail closed: remote, with a warning naming the key to set;
* ``location = "local"`` / ``"host"`` on a URL that is not on this host is a config error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from smallfirst.backends.presets import PRESETS


class EndpointConfig(Protocol):
    """What this module reads of an endpoint's config (``smallfirst.config.schema.EndpointConfig``)."""

    @property
    def backend(self) -> str: ...

    @property
    def base_url(self) -> str | None: ...

    @property
    def location(self) -> str | None: ...

LOCAL = "local"  # on this host (the name residency classes default to)
REMOTE = "remote"  # off this host, no location declared
HOST_ALIASES = frozenset({"local", "host"})
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
IN_PROCESS = frozenset({"embedded"})  # never use a URL
IN_PROCESS_WITHOUT_URL = frozenset({"fake"})  # in-process unless a base_url says otherwise
SOCKET_SCHEMES = frozenset({"unix", "http+unix", "https+unix"})
# default URLs of the native-protocol backends (tests check they match the backend modules' DEFAULT_URL;
# kept here so deciding a location never imports an HTTP client)
NATIVE_DEFAULT_URLS = {"ollama_native": "http://127.0.0.1:11434", "anthropic": "https://api.anthropic.com"}
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*")


@dataclass(frozen=True, slots=True)
class ResolvedLocation:
    location: str  # "local" on this host; else the declared name, or "remote"
    on_host: bool
    why: str
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class _Place:
    kind: str  # "host", "remote", "unclear" (fail closed: remote) or "unknown" (plugin backend, no URL)
    why: str
    host: str | None = None


def canonical(location: str | None) -> str | None:
    """The declared location with ``host`` spelled ``local``; None when none is declared."""
    if location is None:
        return None
    return LOCAL if location in HOST_ALIASES else location


def effective_url(cfg: EndpointConfig) -> str | None:
    """The URL requests go to: ``base_url``, else the backend's default; None for in-process backends
    (and plugin backends that name no URL)."""
    if cfg.backend in IN_PROCESS:
        return None
    if cfg.base_url:
        return cfg.base_url
    if cfg.backend in NATIVE_DEFAULT_URLS:
        return NATIVE_DEFAULT_URLS[cfg.backend]
    p = PRESETS.get(cfg.backend)
    return p.base_url if p is not None else None


def _place(cfg: EndpointConfig) -> _Place:
    url = effective_url(cfg)
    if url is None:
        if cfg.backend in IN_PROCESS or cfg.backend in IN_PROCESS_WITHOUT_URL:
            return _Place("host", f"backend {cfg.backend} runs in-process")
        return _Place("unknown", f"backend {cfg.backend} has no base_url to tell where it sends data")
    default = "" if cfg.base_url else f", from the {cfg.backend} default URL"
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme in SOCKET_SCHEMES:
            return _Place("host", f"{scheme}: is a unix socket on this host")
        host = parts.hostname
    except ValueError:
        host = None
    if not host:
        return _Place("unclear", f"base_url {url!r} has no host that can be read")
    host = host.rstrip(".")
    if host == "localhost":
        return _Place("host", f"host localhost is loopback{default}", host)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(host):
            return _Place("unclear", f"host {host} is not a canonical IP address", host)
        if "." not in host:
            return _Place("unclear", f"host {host} is a bare name that may resolve to any machine", host)
        return _Place("remote", f"host {host} is not loopback{default}", host)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    if ip.is_loopback or (mapped is not None and mapped.is_loopback):
        return _Place("host", f"host {host} is loopback{default}", host)
    if ip.is_unspecified:
        return _Place("unclear", f"host {host} is the unspecified address, not a place", host)
    return _Place("remote", f"host {host} is not loopback{default}", host)


def resolve_location(cfg: EndpointConfig, *, key: str = "location") -> ResolvedLocation:
    """Where data sent to ``cfg`` goes. ``key`` names the setting in messages
    (``tiers[1].endpoints[0].location``). Raises ValueError for ``location = "local"`` (or ``"host"``)
    on an endpoint that is not on this host (the config validator reports it)."""
    declared = canonical(cfg.location)
    place = _place(cfg)
    if declared == LOCAL:
        if place.kind == "host":
            return ResolvedLocation(LOCAL, True, f"declared {cfg.location}; {place.why}")
        if place.kind == "unknown":  # a plugin backend with no URL to check: the declaration is all there is
            return ResolvedLocation(LOCAL, True, f"declared {cfg.location}; {place.why}")
        raise ValueError(
            f"{key} = \"{cfg.location}\" means this host, but {place.why}: a machine reached over the network "
            f"is not this host. If it is your own machine, set {key} = \"site\" and list \"site\" in "
            "[residency.classes] for the data classes that may go there; if it is this host, use a "
            "127.0.0.1 base_url")
    if declared is not None:
        return ResolvedLocation(declared, False, f"declared {cfg.location}; {place.why}")
    if place.kind == "host":
        return ResolvedLocation(LOCAL, True, place.why)
    if place.kind == "remote":
        hint = "" if not cfg.base_url else f"; set {key} = \"site\" if it is your own machine"
        return ResolvedLocation(REMOTE, False, place.why + hint)
    return ResolvedLocation(REMOTE, False, f"{place.why}; treated as remote, fail closed",
                            f"{key}: {place.why}, so the endpoint is treated as remote (fail closed); set {key} "
                            "= \"site\" (your own network) or a region such as \"eu\" to say where it is, or "
                            "use 127.0.0.1 in base_url if it is this host")


def check_name(location: str | None) -> str | None:
    """Validate a declared location name (lower-case, like the names in ``[residency.classes]``)."""
    if location is not None and not NAME.fullmatch(location):
        raise ValueError(f"location {location!r} must be a lower-case name such as host, site, eu or us "
                         "(letters, digits, '-', '_'; at most 32 characters)")
    return location


def endpoint_key(tier_index: int, endpoint_index: int) -> str:
    return f"tiers[{tier_index}].endpoints[{endpoint_index}].location"

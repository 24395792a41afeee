"""What a web page in a browser on the same machine or LAN must not be able to do to a
local HTTP server (the sandbox's admin API here; the kiosk's till API uses it too): drive it.

A page can reach a server on loopback or the LAN in two ways without the server's consent:
- **DNS rebinding**: its own domain name is made to resolve to the server's address, so the
  browser treats the server as the page's own origin. The `Host` header still carries the
  page's name: only `localhost` and IP literals are answered, unless the server needs a
  token (which the page does not have).
- **cross-site requests**: a "simple" request (a form post, `text/plain` fetch) needs no
  preflight. Browsers mark them (`Origin`, `Sec-Fetch-Site`), and they cannot send
  `Content-Type: application/json` without a preflight these servers never grant.

Pure functions over lower-case header dicts; each refusal names the header at fault.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 403 or 415
    header: str  # the header at fault, as a field name
    message: str


def is_local_name(host: str) -> bool:
    """`localhost` or an IP literal: names no DNS-rebinding page can stand behind."""
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_name(host_header: str) -> str:
    """The host of a `Host` header, without port or brackets."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def _loopback_origin(origin: str) -> bool:
    try:
        host = urlsplit(origin).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def has_body(headers: Mapping[str, str]) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() != "0"


def browser_refusal(
    method: str, headers: Mapping[str, str], *, any_host: bool = False
) -> Refusal | None:
    """The refusal for a request a web page could have sent unasked, else None.
    `any_host`: any `Host` is answered (the server needs a token a page cannot have)."""
    if not any_host and not is_local_name(host_name(headers.get("host", ""))):
        return Refusal(403, "Host", "only Host: localhost or an IP address is answered")
    origin = headers.get("origin")
    if origin is not None and not _loopback_origin(origin):
        return Refusal(403, "Origin", "cross-site requests are refused")
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return Refusal(403, "Sec-Fetch-Site", "cross-site requests are refused")
    if method in ("POST", "PUT", "PATCH", "DELETE") and (
            has_body(headers) or "content-type" in headers):
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return Refusal(415, "Content-Type", "send the body as Content-Type: "
                           "application/json")
    return None

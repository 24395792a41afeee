"""The one rule for every URL the kiosk fetches: https, or plain http to a loopback address.

The URL is parsed by httpx itself, the parser that will fetch it, so what is checked is what
is fetched: `http://192.0.2.2:8080#@127.0.0.1/c.toml` is a request to 192.0.2.2 (the rest
is a fragment), and it is refused here for that reason.
"""

from __future__ import annotations

import ipaddress

import httpx

LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(host: str) -> bool:
    """Whether `host` (as httpx parsed it, without brackets) names this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, allow_http_loopback: bool = True, allow_query: bool = False
                ) -> str | None:
    """Why `url` may not be fetched, or None when it may.

    https:// to any host; http:// only to a loopback address (and only when
    `allow_http_loopback`); no user name or password in it, no fragment, a query only when
    `allow_query`.
    """
    if not url.strip():
        return "is empty: expected an https:// URL"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "contains a space or control character"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return "is not a URL: expected https://host[:port][/path]"
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "is not an absolute https:// URL"
    if parsed.scheme == "http":
        if not is_loopback_host(parsed.host):
            return (f"plain http:// is only for a loopback address, not {parsed.host}: "
                    "use https://")
        if not allow_http_loopback:
            return "plain http:// is not allowed here: use https://"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is outside 1..65535"
    if parsed.userinfo:
        return "must not carry a user name or password (secrets go in their own settings)"
    if parsed.fragment or "#" in url:
        return "must not have a #fragment"
    if parsed.query and not allow_query:
        return "must not have a ?query"
    return None

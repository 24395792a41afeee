"""Putting the till's API into a kiosk: what the composition root calls.

`open_till()` binds the server (a port in use, or a LAN address without a token, is a
config error naming the key: exit 2) and returns a `Till`: its `service` is the loop's
`TillPort`, its `events` an output, and `checker()` the checker that also shares.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.api.server import ApiServer
from kiosk.api.service import TillService
from kiosk.api.till import TillEvents
from kiosk.checking.names import NameSource
from kiosk.checking.share import TillChecker, till_checker
from kiosk.config import Config, ConfigError, load_api_token, parse_listen

log = logging.getLogger(__name__)


@dataclass
class Till:
    service: TillService
    server: ApiServer
    events: TillEvents

    def checker(self, config: Config, diia: Any, *, names: NameSource | None = None,
                clock_trusted: Callable[[], bool] | None = None) -> TillChecker:
        """The checker for `config` (the one started with, or a live reload's)."""
        k, share = config.kiosk, config.share
        return till_checker(
            self.service.registry, diia, mode=k.mode, min_age=k.min_age,
            send_qr=config.diia.send_qr, names=names, clock_trusted=clock_trusted,
            share_wait_s=share.wait_s, share_poll_s=share.poll_s,
            offer_id=share.offer_id, return_link=share.return_link,
        )

    def set_health(self, health: Callable[[], dict[str, Any]]) -> None:
        self.service.health = health

    def close(self) -> None:
        self.server.stop()


def open_till(config: Config, *, staff_step: bool, environ: Any = os.environ) -> Till:
    """The till's API of `[api]` (which must have `listen` set), listening."""
    token = load_api_token(config.api, environ)
    host, port = parse_listen(config.api.listen)
    service = TillService(
        default_min_age=config.kiosk.min_age,
        default_expires_s=config.api.expires_s,
        staff_step=staff_step,
        online_share=bool(config.share.offer_id),
    )
    try:
        server = ApiServer((host, port), service, token)
    except OSError as exc:
        raise ConfigError("api.listen", f"cannot listen on {config.api.listen}: "
                          f"{exc.strerror or exc}") from exc
    events = TillEvents(service.registry, service.events)
    service.shown = lambda: events.state  # staff commands are refused when they change nothing
    server.start()
    log.info("the till's API listens on %s%s", server.url,
             " (bearer token required)" if token else "")
    return Till(service, server, events)

"""Putting the till's API into a kiosk: what the composition root calls.

`open_till()` binds the server (a port in use, or a LAN address without a token, is a
config error naming the key: exit 2) and returns a `Till`: its `service` is the loop's
`TillPort` and one of its outputs. The API talks to the loop only, never to Diia.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.api.server import ApiServer
from kiosk.api.service import TillService
from kiosk.config import Config, ConfigError, load_api_token, parse_listen

log = logging.getLogger(__name__)


@dataclass
class Till:
    service: TillService
    server: ApiServer

    def close(self) -> None:
        self.server.stop()


def open_till(
    config: Config,
    *,
    staff_step: bool,
    diia: Callable[[], str] = lambda: "unknown",
    config_version: Callable[[], int] = lambda: 0,
    clock_trusted: Callable[[], bool] = lambda: True,
    wake: Callable[[], None] = lambda: None,
    environ: Any = os.environ,
) -> Till:
    """The till's API of `[api]` (which must have `listen` set), listening. `/v1/health`
    reads `diia` (reachable | unreachable | unknown: the kiosk's one owner of that),
    `config_version` and `clock_trusted`; `wake()` tells the loop a command is waiting."""
    token = load_api_token(config.api, environ)
    host, port = parse_listen(config.api.listen)
    service = TillService(
        default_min_age=config.kiosk.min_age,
        default_expires_s=config.api.expires_s,
        staff_step=staff_step,
        online_share=bool(config.share.offer_id),
        arming_required=staff_step or config.kiosk.require_arming,
        diia=diia,
        config_version=config_version,
        clock_trusted=clock_trusted,
        wake=wake,
    )
    try:
        server = ApiServer((host, port), service, token)
    except OSError as exc:
        raise ConfigError("api.listen", f"cannot listen on {config.api.listen}: "
                          f"{exc.strerror or exc}") from exc
    server.start()
    log.info("the till's API listens on %s%s", server.url,
             " (bearer token required)" if token else "")
    return Till(service, server)

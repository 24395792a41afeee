"""Putting the till's API into a kiosk: the one function the composition root calls.

`open_till()` binds the server (a port in use or a LAN address without a token is a config
error naming the key, exit 2) and returns a `Till` whose parts the root fits around the loop:
the checker, the readings gate, the staff input and the events signal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kiosk.api.server import ApiServer
from kiosk.api.service import TillService
from kiosk.api.till import TillChecker, TillEvents, armed_readings, till_checker
from kiosk.config import Config, ConfigError, load_api_token, parse_listen
from kiosk.staff import QueuedStaffInput, StaffCommand, StaffInput

log = logging.getLogger(__name__)


class MergedStaff:
    """The staff button and the till, as one staff input: commands from either, in turn."""

    def __init__(self, *inputs: StaffInput) -> None:
        self._inputs = inputs

    def take(self) -> list[StaffCommand]:
        return [command for source in self._inputs for command in source.take()]

    def close(self) -> None:
        for source in self._inputs:
            source.close()


@dataclass
class Till:
    config: Config
    service: TillService
    server: ApiServer
    events: TillEvents

    def checker(self, config: Config, diia: Any, *, names: Any = None,
                clock_trusted: Callable[[], bool] | None = None) -> TillChecker:
        """The checker for `config` (the one started with, or a live reload's)."""
        k, share = config.kiosk, config.share
        return till_checker(
            self.service.registry, diia, mode=k.mode, min_age=k.min_age,
            send_qr=config.diia.send_qr, names=names, clock_trusted=clock_trusted,
            require_arming=k.require_arming, share_wait_s=share.wait_s,
            share_poll_s=share.poll_s,
        )

    def readings(self, readings: Iterable[Any]) -> Iterable[Any]:
        if not self.config.kiosk.require_arming:
            return readings
        return armed_readings(readings, self.service.registry)

    def staff(self, button: StaffInput | None) -> StaffInput | None:
        """The staff input the loop takes commands from: the button and the till together."""
        if self.service.staff is None:
            return button
        return self.service.staff if button is None else MergedStaff(button, self.service.staff)

    def set_health(self, health: Callable[[], dict[str, Any]]) -> None:
        self.service.health = health

    def close(self) -> None:
        self.server.stop()


def open_till(config: Config, *, attended: bool, environ: Any = os.environ) -> Till | None:
    """The till's API as configured, listening; None when `[api] listen` is off."""
    if not config.api.listen:
        return None
    token = load_api_token(config.api, environ)
    host, port = parse_listen(config.api.listen)
    service = TillService(
        default_min_age=config.kiosk.min_age,
        default_expires_s=config.api.expires_s,
        staff=QueuedStaffInput() if attended else None,
    )
    try:
        server = ApiServer((host, port), service, token)
    except OSError as exc:
        raise ConfigError("api.listen", f"cannot listen on {config.api.listen}: "
                          f"{exc.strerror or exc}") from exc
    events = TillEvents(service.registry, service.events)
    server.start()
    log.info("the till's API listens on %s%s", server.url,
             " (bearer token required)" if token else "")
    return Till(config, service, server, events)

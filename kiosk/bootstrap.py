"""The composition root: the one place that turns a config into real devices and clients.

Everything else receives its I/O through constructors, so tests and the demo build the same
objects with fakes only at the outermost seam (the sandbox, mock pins, the dummy display).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.app import IDLE_WAKE_S, Kiosk, frame_readings, scanner_readings
from kiosk.checking.checker import Checker, DiiaChecker, DiiaPort
from kiosk.checking.names import NameFile, NameSource
from kiosk.config import (
    Config,
    ConfigError,
    Credentials,
    check_staff_step,
    load_credentials,
    parse_size,
    till_is_staff_step,
)
from kiosk.decoding.decode import make_decoder
from kiosk.diia.client import DiiaClient, Exchange
from kiosk.diia.transport import ProxySettingError
from kiosk.loop import FaultChanged, Reading, Tick, TillPort
from kiosk.model import Fault
from kiosk.ops.reach import DiiaReach
from kiosk.signals import Signals
from kiosk.signals.events import JsonLinesEvents
from kiosk.sources import FrameSource
from kiosk.staff import QueuedStaffInput, StaffInput

if TYPE_CHECKING:
    from kiosk.api.setup import Till
    from kiosk.ops.runtime import Operations

log = logging.getLogger(__name__)

CAMERA_GONE_FRAMES = 8  # about half a second at 15 fps: tolerates frames where a read misses


def on_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def gpio_pin_factory(config: Config) -> Any:
    """The pin factory GPIO devices share: gpiozero's mock pins for gpio = "mock" (one
    factory, so a staff button and the lights see the same board), else None (gpiozero's
    default: lgpio on a Pi)."""
    if config.signals.gpio == "mock":
        from kiosk.signals.lights import mock_pin_factory

        return mock_pin_factory()
    return None


def attended_checks(config: Config) -> bool:
    """Attended mode applies to age checks; validation and name checks run unattended."""
    return config.kiosk.attended and config.kiosk.mode == "age"


def _gpio_here(config: Config, pin_factory: Any) -> bool:
    return pin_factory is not None or config.signals.gpio == "mock" or on_raspberry_pi()


def staff_at_the_till(config: Config, pin_factory: Any = None) -> bool:
    """Attended age checks whose staff step is the till (no staff button to press)."""
    return attended_checks(config) and till_is_staff_step(config, _gpio_here(config,
                                                                             pin_factory))


def build_staff(config: Config, pin_factory: Any = None,
                wake: Callable[[], None] = lambda: None) -> StaffInput | None:
    """The staff step for attended age checks: the staff button, or, with no button but the
    till's API, an input that takes nothing (the till arms and acknowledges through its own
    port); None when checks run unattended."""
    if not attended_checks(config):
        return None
    check_staff_step(config)  # a config error: neither a button nor the till's API
    s = config.signals
    gpio_here = _gpio_here(config, pin_factory)
    if till_is_staff_step(config, gpio_here):
        log.info("attended age checks: the till arms and acknowledges (no staff button)")
        return QueuedStaffInput(wake)
    if not gpio_here:
        raise ConfigError("kiosk.attended", "attended age checks need the staff button on "
                          f"GPIO{s.staff_pin}, and there is no GPIO here (signals.gpio = "
                          '"mock" to simulate one, [api] listen for the till to arm and '
                          "acknowledge, or kiosk.attended = false)")
    from kiosk.staff import GpioStaffButton, StaffInputError

    try:
        return GpioStaffButton(s.staff_pin, pin_factory=pin_factory, wake=wake)
    except StaffInputError as exc:
        raise ConfigError("signals.staff_pin", str(exc)) from exc


def build_signals(
    config: Config,
    *,
    screenshot_dir: Path | None = None,
    pin_factory: Any = None,
    screenshot_sizes: Sequence[tuple[int, int]] = (),
) -> list[Signals]:
    """Every configured output. One that cannot open is logged and left out: a kiosk with a
    dead screen still lights its LEDs and tells the POS, and the reverse."""
    signals: list[Signals] = []
    gpio = config.signals.gpio
    if gpio != "off" and (gpio == "mock" or pin_factory is not None or on_raspberry_pi()):
        from kiosk.signals.lights import GpioSignals, LightsError, mock_pin_factory

        if gpio == "mock" and pin_factory is None:
            pin_factory = mock_pin_factory()
        s = config.signals
        try:
            signals.append(
                GpioSignals(
                    green_pin=s.green_pin,
                    red_pin=s.red_pin,
                    amber_pin=s.amber_pin,
                    buzzer_pin=s.buzzer_pin,
                    leds=s.leds,
                    blue_pin=s.blue_pin,
                    led_active_high=s.led_active_high,
                    buzzer=s.buzzer,
                    relay_pin=s.relay_pin if s.relay_pin >= 0 else None,
                    relay_seconds=s.relay_seconds,
                    relay_active_high=s.relay_active_high,
                    pin_factory=pin_factory,
                )
            )
        except LightsError as exc:
            log.error("no LEDs or buzzer: %s", exc)
    elif gpio == "auto":
        log.info("not a Raspberry Pi: no LEDs or buzzer (signals.gpio = \"mock\" to simulate)")
    if config.signals.screen == "pygame":
        from kiosk.signals.screen import PygameScreen, ScreenError

        def open_screen() -> PygameScreen:
            return PygameScreen(
                size=parse_size(config.signals.screen_size, "signals.screen_size"),
                language=config.kiosk.language,
                fullscreen=config.signals.fullscreen,
                screenshot_dir=screenshot_dir,
                screenshot_sizes=screenshot_sizes,
                till_staff=staff_at_the_till(config, pin_factory),
            )

        try:
            signals.append(open_screen())
        except ScreenError as exc:
            # A panel powered up later, a desktop still holding the display: try again.
            from kiosk.signals.screen_retry import ReopeningScreen

            log.error("no screen yet: %s; trying again with a growing pause", exc)
            signals.append(ReopeningScreen(open_screen, str(exc)))
    if config.signals.events != "off":
        signals.append(JsonLinesEvents.open(config.signals.events))
    return signals


def build_client(
    config: Config,
    credentials: Credentials,
    transport: Any = None,
    on_exchange: Callable[[Exchange], None] | None = None,
) -> DiiaClient:
    d = config.diia
    if d.ca_file and not Path(d.ca_file).is_file():
        raise ConfigError("diia.ca_file", f"{d.ca_file} is not a readable file")
    try:
        return DiiaClient(
            d.base_url,
            credentials,
            d.branch_id,
            timeout_s=d.timeout_s,
            qr_field=d.qr_field,
            age_field=d.age_field,
            last_name_field=d.last_name_field,
            first_name_field=d.first_name_field,
            middle_name_field=d.middle_name_field,
            ca_file=d.ca_file,
            transport=transport,
            on_exchange=on_exchange,
        )
    except ProxySettingError as exc:  # the environment is configuration too: exit 2, named
        raise ConfigError(f"${exc.variable}", exc.problem) from None


def build_names(config: Config) -> NameSource | None:
    """Where mode "name" gets the expected names: the POS's name file, if configured."""
    if config.kiosk.mode != "name":
        return None
    if not config.kiosk.name_file:
        log.warning('mode "name" without kiosk.name_file: every name check will be unknown')
        return None
    return NameFile(config.kiosk.name_file, max_age_s=config.kiosk.name_max_age_s)


def build_checker(
    config: Config,
    client: DiiaPort,
    names: NameSource | None = None,
    clock_trusted: Callable[[], bool] | None = None,
) -> DiiaChecker:
    """The checker; `names` overrides the configured name source (`kiosk check --last-name`);
    `clock_trusted` (the appliance's clock trust) turns verdicts on a doubtful clock amber."""
    return DiiaChecker(
        client,
        mode=config.kiosk.mode,
        min_age=config.kiosk.min_age,
        send_qr=config.diia.send_qr,
        names=names or build_names(config),
        clock_trusted=clock_trusted,
    )


def build_readings(
    config: Config,
    wrap_decoder: Callable[[Any], Any] | None = None,
    on_camera_fault: Callable[[bool], None] | None = None,
) -> tuple[Iterable[Reading], int]:
    """The readings of the configured source, and how many empty frames mean "gone".

    `wrap_decoder` wraps every frame source's decoder (the appliance times each frame);
    `on_camera_fault(lost)` hears when the camera is lost and back."""
    source = config.source
    wrap = wrap_decoder or (lambda decoder: decoder)
    if source.kind in ("images", "camera"):
        decoder = wrap(make_decoder(config.decode.backend, config.decode.region_assist))
    if source.kind == "images":
        from kiosk.sources.images import ImageFrames

        frames = ImageFrames.from_paths(
            [source.path], hold_frames=source.hold_frames, fps=source.fps
        )
        # One whole image without a code means the code was taken away.
        return frame_readings(frames, decoder), source.hold_frames
    if source.kind == "camera":
        from kiosk.sources.camera import CameraError, CameraFrames

        try:
            camera = CameraFrames(camera_settings(config), on_fault=on_camera_fault)
        except CameraError as exc:
            raise ConfigError("source.kind", str(exc)) from exc
        return frame_readings(camera, decoder), CAMERA_GONE_FRAMES
    if source.kind == "stdin":
        from kiosk.sources.stdin import StdinCodes

        return scanner_readings(StdinCodes()), 0
    if source.kind in ("keyboard", "serial"):
        return scanner_readings(build_scanner(config)), 0
    raise ConfigError("source.kind", f'"{source.kind}" is not available in this version yet')


def camera_settings(config: Config) -> Any:
    from kiosk.sources.camera import CameraSettings

    c = config.camera
    return CameraSettings(
        size=parse_size(c.size, "camera.size"),
        fps=c.fps,
        index=c.index,
        autofocus=c.autofocus,
        lens_position=c.lens_position,
        exposure_value=c.exposure_value,
        exposure_time_us=c.exposure_time_us,
    )


def build_scanner(config: Config) -> Any:
    """The HID (evdev) or serial scanner of `source.kind`; a missing library is a config
    error that names what to install."""
    from kiosk.sources.keyboard import HidScanner, ScannerUnavailable
    from kiosk.sources.serial import SerialScanner

    s = config.scanner
    try:
        if config.source.kind == "keyboard":
            return HidScanner(config.source.path, name=s.name,
                              inter_key_timeout_s=s.inter_key_timeout_s)
        return SerialScanner(config.source.path, baudrate=s.baudrate,
                             inter_key_timeout_s=s.inter_key_timeout_s)
    except ScannerUnavailable as exc:
        raise ConfigError("source.kind", str(exc)) from exc


# (new config, the client in use) → (its checker, its client): what a live reload calls.
CheckerBuilder = Callable[[Config, "DiiaClient | None"], tuple[Checker, "DiiaClient | None"]]


@dataclass
class Parts:
    """A built kiosk: every part, built once by `bootstrap`. A live reload swaps `client`
    and `checker` here, the one place everyone reads them from (the loop's checker, the
    housekeeping's Diia probe and clock offset)."""

    kiosk: Kiosk
    client: DiiaClient | None  # None when a checker was handed in
    checker: Checker
    outputs: list[Signals] = field(default_factory=list)
    staff: StaffInput | None = None
    till: Till | None = None  # the till's API ([api] listen)
    ops: Operations | None = None
    reach: DiiaReach = field(default_factory=DiiaReach)  # is Diia answering: its one owner
    rebuild_checker: CheckerBuilder | None = None

    def run(self) -> None:
        try:
            self.kiosk.run()
        finally:
            self.close()

    def reconfigure(self, config: Config) -> None:
        """A new config whose changes need no restart (see ops.remote_config): a new checker
        (and Diia client, if its settings changed), handed to the loop between checks."""
        if self.rebuild_checker is None:
            raise RuntimeError("this kiosk was built with a fixed checker")
        old_client = self.client
        self.checker, self.client = self.rebuild_checker(config, old_client)
        self.kiosk.use_checker(self.checker, result_seconds=config.kiosk.result_seconds)
        if old_client is not None and self.client is not old_client:
            old_client.close()  # the kiosk is idle: no call is in flight on it

    def close(self) -> None:
        self.kiosk.close_outputs()
        if self.staff is not None:
            self.staff.close()
        if self.till is not None:
            self.till.close()
        if self.client is not None:
            self.client.close()


def check_budget_s(config: Config) -> float:
    """The longest one Diia check may take, all its calls (login, check, a retry) together;
    past it (and a grace) a check is stuck, and the watchdog stops being fed."""
    return 3 * config.diia.timeout_s


def share_budget_s(config: Config) -> float:
    """The longest a share may take: the holder's `share.wait_s`, and its calls."""
    return config.share.wait_s + check_budget_s(config)


def bootstrap(
    config: Config,
    *,
    credentials: Credentials | None = None,
    transport: Any = None,
    pin_factory: Any = None,
    frames: FrameSource | None = None,
    readings: Iterable[Reading] | None = None,
    gone_frames: int | None = None,
    outputs: Sequence[Signals] | None = None,
    extra_signals: Sequence[Signals] = (),
    checker: Checker | None = None,
    names: NameSource | None = None,
    staff: StaffInput | None = None,
    till_port: TillPort | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    heartbeat: Callable[[], None] | None = None,
    on_exchange: Callable[[Exchange], None] | None = None,
    screenshot_dir: Path | None = None,
    screenshot_sizes: Sequence[tuple[int, int]] = (),
    ops: Operations | None = None,
) -> Parts:
    """The kiosk for `config`, put together in one pass: the one place its objects are made.

    Every override replaces one part the config would otherwise choose:
    `credentials` (default: from the environment or the secret files), `transport` (the
    Diia client's httpx transport), `pin_factory` (gpiozero's; the lights and the staff
    button share it), `frames` (a frame source decoded by the configured decoder) or
    `readings` (already decoded) instead of `[source]`, with `gone_frames`; `outputs`
    instead of the configured signals, `extra_signals` besides them; `checker` instead of
    the Diia client and checker; `names` (mode "name"); `staff`; `till_port` (the till's side
    of the loop: its commands in, how its checks stand out); the loop's `clock`,
    `sleep` and `heartbeat`; `on_exchange` (each Diia HTTP exchange). With `ops`
    (kiosk.ops.runtime) also the metrics, audit log, clock trust and housekeeping.
    """
    # First what can be wrong in the config: the secrets, the source, the staff button.
    if checker is None and credentials is None:
        credentials = load_credentials(config.diia)
    loop_clock = clock or time.monotonic
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()  # the loop's one queue

    def wake() -> None:  # a command handed over beside the inbox: the loop turns now
        inbox.put(Tick(loop_clock()))

    def camera_fault(lost: bool) -> None:
        inbox.put(FaultChanged(Fault.CAMERA, lost, loop_clock()))

    wrap = ops.wrap_decoder if ops else None
    if readings is None:
        if frames is not None:
            decoder = make_decoder(config.decode.backend, config.decode.region_assist)
            readings = frame_readings(frames, wrap(decoder) if wrap else decoder)
            default_gone = (config.source.hold_frames if config.source.kind == "images"
                            else CAMERA_GONE_FRAMES)
        else:
            readings, default_gone = build_readings(config, wrap, on_camera_fault=camera_fault)
    else:
        default_gone = 0
    gone = default_gone if gone_frames is None else gone_frames
    if pin_factory is None:
        pin_factory = gpio_pin_factory(config)
    if staff is None:
        staff = build_staff(config, pin_factory, wake)  # a config error: attended without a button
    reach = ops.reach if ops else DiiaReach()
    till = None
    if config.api.listen and till_port is None:  # imported only when on: no cost when off
        from kiosk.api.setup import open_till

        till = open_till(  # a config error: no token, the port taken
            config, staff_step=staff is not None, diia=reach.said,
            config_version=(lambda: ops.version) if ops else (lambda: 0),
            clock_trusted=ops.clock_trusted if ops else (lambda: True), wake=wake)
        till_port = till.service
    client: DiiaClient | None = None
    observers = [reach.observe, on_exchange or (ops.metrics.observe_exchange if ops else None)]

    def exchanges(exchange: Exchange) -> None:
        for observe in observers:
            if observe is not None:
                observe(exchange)

    clock_trusted = ops.clock_trusted if ops else None
    end_waits = threading.Event()  # set when the kiosk stops: a waiting share ends at once
    rebuild = None
    if checker is None:
        secrets = credentials
        assert secrets is not None

        def rebuild(new: Config, old: DiiaClient | None) -> tuple[Checker, DiiaClient | None]:
            fresh = old
            if old is None or new.diia != config.diia:
                fresh = build_client(new, secrets, transport=transport, on_exchange=exchanges)
            assert fresh is not None
            if till is not None:  # armed checks are checked on the till's terms
                return build_till_checker(new, fresh, till, names or build_names(new),
                                          clock_trusted, end_waits), fresh
            return build_checker(new, fresh, names, clock_trusted=clock_trusted), fresh

        checker, client = rebuild(config, None)
    signals = list(outputs) if outputs is not None else build_signals(
        config, screenshot_dir=screenshot_dir, pin_factory=pin_factory,
        screenshot_sizes=screenshot_sizes)
    if ops:
        signals += ops.signals()
    signals += extra_signals
    if till is not None:
        signals.append(till.service)  # what the loop shows, for /v1/health and staff answers
    loop_seams: dict[str, Any] = {}
    if clock is not None:
        loop_seams["clock"] = clock
    if sleep is not None:
        loop_seams["sleep"] = sleep
    if heartbeat is None and ops is not None:
        heartbeat = ops.heartbeat
    if heartbeat is not None:
        loop_seams["heartbeat"] = heartbeat
    kiosk = Kiosk(
        readings=readings,
        checker=checker,
        signals=signals,
        result_seconds=config.kiosk.result_seconds,
        gone_frames=gone,
        attended=staff is not None,
        staff=staff,
        arm_seconds=config.kiosk.arm_seconds,
        require_arming=config.kiosk.require_arming,
        check_seconds=check_budget_s(config),
        share_seconds=share_budget_s(config),
        end_waits=end_waits,
        push_readings=gone == 0,  # a scanner blocks between scans: its scans come on the inbox
        # The watchdog is pinged at half its period: the loop beats at least that often.
        heartbeat_s=ops.watchdog_period / 2 if ops and ops.watchdog_period else IDLE_WAKE_S,
        inbox=inbox,
        till=till_port,
        on_output_error=ops.metrics.observe_output_error if ops else None,
        **loop_seams,
    )
    return Parts(kiosk, client, checker, signals, staff, till, ops, reach, rebuild)


def build_till_checker(config: Config, client: DiiaClient, till: Till,
                       names: NameSource | None, clock_trusted: Callable[[], bool] | None,
                       stop: threading.Event) -> Checker:
    """The checker of a kiosk with the till's API: the till's terms, sharing included."""
    from kiosk.checking.share import till_checker

    k, share = config.kiosk, config.share
    return till_checker(
        client, mode=k.mode, min_age=k.min_age, send_qr=config.diia.send_qr, names=names,
        clock_trusted=clock_trusted, share_wait_s=share.wait_s, share_poll_s=share.poll_s,
        offer_id=share.offer_id, return_link=share.return_link,
        on_request=till.service.registry.note_request, stop=stop,
    )


def use_headless_display_if_needed(fullscreen: bool = False) -> None:
    """Choose SDL's video driver unless the environment did: a desktop's window, the console
    through KMS/DRM for a fullscreen kiosk with no desktop, else off-screen (dummy)."""
    from kiosk.signals.display import prepare_video

    prepare_video(os.environ, fullscreen)

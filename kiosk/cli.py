"""The `kiosk` command. Exit codes: 0 ok, 2 usage or config error, 1 anything else.

`kiosk check` also tells its verdict by its exit status, so that a script can act on it:
0 pass, 3 fail, 4 unknown (1 and 2 keep their meaning: an error, a usage or config error).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk import __version__
from kiosk.config import DECODER_BACKENDS, LANGUAGES, ConfigError, config_path
from kiosk.config_files import load_config, read_config, require_config_file
from kiosk.model import MODES

if TYPE_CHECKING:  # the commands import what they use when they run: a fast --help
    from kiosk.checking.names import NameSource
    from kiosk.diia.client import Exchange
    from kiosk.model import Verdict

log = logging.getLogger("kiosk")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# `kiosk check`: the verdict as an exit status (pass is EXIT_OK).
EXIT_CHECK_FAIL, EXIT_CHECK_UNKNOWN = 3, 4
CHECK_EXIT_HELP = "exit status: 0 pass, 3 fail, 4 unknown; 2 usage or config error, 1 error"
CONFIG_HELP = "config file (else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml)"


def _setup_logging(verbose: bool) -> None:
    # The journal stamps time itself; a terminal user wants the level and the module.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; our own one line per scan says what matters.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.bootstrap import bootstrap, use_headless_display_if_needed
    from kiosk.ops.runtime import Operations, RestartRequested, stop_on_signals
    from kiosk.sources.images import SourceError

    path = config_path(args.config, os.environ)
    require_config_file(path)
    # The local file, with the last accepted remote config over it (kiosk/ops/runtime.py).
    ops = Operations.start(path, os.environ)
    config = ops.config
    if config.signals.screen == "pygame":
        use_headless_display_if_needed(config.signals.fullscreen)
    try:
        appliance = bootstrap(config, ops=ops)
    except SourceError as exc:  # an image folder that is not there is a wrong setting
        raise ConfigError("source.path", str(exc)) from exc
    stop_on_signals(appliance.kiosk)  # SIGTERM, SIGINT, SIGHUP: the verdict in flight first
    log.info("kiosk %s running: mode %s, source %s (config %s)",
             __version__, config.kiosk.mode, config.source.kind, path)
    ops.attach(appliance)  # READY=1 for systemd
    try:
        appliance.run()
    except RestartRequested as exc:
        log.info("%s", exc)  # systemd starts us again with the new config as a trial
        return EXIT_OK
    finally:
        ops.close(f"stopped after {appliance.kiosk.verdicts_said}")
    ended = "stopped" if appliance.kiosk.stopping else "source ended"
    log.info("%s after %s", ended, appliance.kiosk.verdicts_said)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.bootstrap import use_headless_display_if_needed
    from kiosk.demo import run_demo

    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    else:
        use_headless_display_if_needed()
    screenshots = Path(args.screenshots) if args.screenshots else None
    if screenshots:
        screenshots.mkdir(parents=True, exist_ok=True)
    return run_demo(screenshot_dir=screenshots, language=args.language)


def cmd_selftest(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kiosk.bootstrap import use_headless_display_if_needed
    from kiosk.config import Config
    from kiosk.selftest import selftest

    path = config_path(args.config, os.environ)
    if args.config is None and not path.exists():  # before the kiosk is configured
        print(f"kiosk selftest: no config at {path}: testing the default wiring",
              file=sys.stderr)
        config = Config()
    else:
        config = load_config(path)
    if args.gpio:
        config = replace(config, signals=replace(config.signals, gpio=args.gpio))
    if config.signals.screen == "pygame":
        use_headless_display_if_needed(config.signals.fullscreen)
    ok = selftest(config, sys.stdout, step_seconds=args.seconds, wait_press_s=args.wait_press)
    return EXIT_OK if ok else EXIT_FAILURE


def cmd_decode(args: argparse.Namespace) -> int:
    from kiosk.decoding.decode import make_decoder
    from kiosk.sources.images import ImageFrames, SourceError

    decoder = make_decoder(args.backend, watch_changes=False)  # every image is a new scene
    try:
        paths = ImageFrames.expand(args.paths)
    except SourceError as exc:
        print(f"kiosk decode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _decode_each(paths, decoder, args.all)
    except BrokenPipeError:  # `| head -1`: the reader has what it wanted
        return EXIT_OK


def _decode_each(paths: Sequence[Path], decoder: Any, every_code: bool) -> int:
    from kiosk.sources.images import ImageFrames

    for path in paths:
        frame = ImageFrames.load(path)
        if frame is None:
            print(json.dumps({"path": str(path), "error": "cannot read image"}))
            continue
        started = time.perf_counter()
        codes: list[dict[str, object]]
        try:
            if every_code:
                codes = [
                    {"format": read.format, "text": read.text, "diia": read.diia}
                    for read in decoder.read_all(frame)
                ]
            else:
                codes = [
                    {"format": code.symbology, "text": code.text}
                    for code in decoder.decode(frame)
                ]
        except Exception as exc:  # one image never stops the rest of the folder
            log.warning("decoder failed on %s: %s", path, type(exc).__name__)
            print(json.dumps({"path": str(path), "error": "decoder failed"}))
            continue
        ms = (time.perf_counter() - started) * 1000
        print(json.dumps({"path": str(path), "codes": codes, "ms": round(ms, 1)}))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kiosk.bootstrap import build_checker, build_client
    from kiosk.config import load_credentials
    from kiosk.signals.events import verdict_event
    from kiosk.sources.stdin import parse_typed

    code = parse_typed(args.code)
    if code is None:
        print("kiosk check: not a Diia code (13 digits, valid check digit, first digit not 0)",
              file=sys.stderr)
        return EXIT_USAGE
    config = read_config(args.config, os.environ)
    # One check, now: nobody to arm it, nothing to hold on a screen.
    config = replace(config, kiosk=replace(config.kiosk, mode=args.mode or config.kiosk.mode,
                                           attended=False, result_seconds=0))
    names = _typed_names(args, config.kiosk.mode)
    if isinstance(names, str):
        print(f"kiosk check: {names}", file=sys.stderr)
        return EXIT_USAGE
    exchanges: list[Exchange] = []
    # A client and a checker, built as `kiosk run` builds them, and nothing else: no source,
    # no outputs, no till's API (a running kiosk holds its port).
    client = build_client(config, load_credentials(config.diia), on_exchange=exchanges.append)
    try:
        checker = build_checker(config, client, names)
        started = time.perf_counter()
        verdict = checker.check(code)
        total_ms = (time.perf_counter() - started) * 1000
    finally:
        client.close()
    verdict = replace(verdict, ms={**verdict.ms, "total": round(total_ms, 1)})
    print(json.dumps(verdict_event(verdict), ensure_ascii=False), flush=True)
    print(_check_report(verdict, exchanges, total_ms, config.kiosk.language), file=sys.stderr)
    return check_exit_status(verdict.outcome)


def check_exit_status(outcome: str) -> int:
    """`kiosk check`'s exit status for a verdict: 0 pass, 3 fail, 4 unknown."""
    return {"pass": EXIT_OK, "fail": EXIT_CHECK_FAIL}.get(outcome, EXIT_CHECK_UNKNOWN)


def _typed_names(args: argparse.Namespace, mode: str) -> NameSource | str | None:
    """The names given with --last-name etc., None when none were, or what is wrong."""
    from kiosk.checking.names import FixedName
    from kiosk.model import HolderName, InvalidName

    given = {k: v for k in ("last_name", "first_name", "middle_name")
             if (v := getattr(args, k)) is not None}
    if not given:
        return None
    if mode != "name":
        return f'--last-name, --first-name and --middle-name are for mode "name", not "{mode}"'
    try:
        return FixedName(HolderName.parse(given))
    except InvalidName as exc:
        return f"names: {exc}"


def _check_report(verdict: Verdict, exchanges: list[Exchange], total_ms: float,
                  language: str) -> str:
    """The verdict in words and where the time went, for a person at a terminal."""
    from kiosk.messages import one_line, text_for
    from kiosk.model import RESULT_PHASES, State

    headline, detail = text_for(State(RESULT_PHASES[verdict.outcome], verdict), language)
    cached = ", from memory" if verdict.cached else ""
    lines = [f"{verdict.outcome} ({verdict.reason}{cached}, mode {verdict.mode}): "
             f"{headline}. {one_line(detail)}"]
    for x in exchanges:
        status = str(x.status) if x.status else "no answer"
        fresh = ", new connection" if x.new_connection else ""
        lines.append(f"  {x.call:<9}{x.ms:8.1f} ms  {status}{fresh}")
    own = total_ms - sum(x.ms for x in exchanges)
    lines.append(f"  {'kiosk':<9}{own:8.1f} ms  own work outside the HTTP requests")
    lines.append(f"  {'total':<9}{total_ms:8.1f} ms")
    return "\n".join(lines)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from kiosk.diia.sandbox import DiiaSandbox
    from kiosk.diia.sandbox.admin import banner

    try:
        sandbox = DiiaSandbox(port=args.port).start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"kiosk sandbox: port {args.port} is already in use (another sandbox?); "
              "choose another with --port N, or --port 0 for any free port", file=sys.stderr)
        return EXIT_FAILURE
    # Ctrl-C and `kill` (systemd's or a container's stop) both end it cleanly. Set here, not
    # left to Python's default: a shell script that starts the sandbox with `&` hands it
    # SIGINT ignored, and a plain SIGTERM would end it with no clean-up and a non-zero status.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with sandbox:
        print(banner(sandbox), flush=True)
        while not stop.wait(1.0):
            pass
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Diia code scanner kiosk")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the appliance")
    run.add_argument("--config", help=CONFIG_HELP)
    run.set_defaults(handler=cmd_run)

    demo = sub.add_parser("demo", help="the whole loop against the embedded Diia sandbox")
    demo.add_argument("--headless", action="store_true", help="draw off-screen")
    demo.add_argument("--screenshots", metavar="DIR", help="save one PNG per screen state shown")
    demo.add_argument("--language", choices=LANGUAGES, default=LANGUAGES[0],
                      help=f"of the screen (default {LANGUAGES[0]})")
    demo.set_defaults(handler=cmd_demo)

    selftest = sub.add_parser("selftest", help="show every state on the LEDs, buzzer, relay "
                              "and screen, to check the wiring")
    selftest.add_argument("--config", help=CONFIG_HELP)
    selftest.add_argument("--gpio", choices=("auto", "mock", "off"), help="override signals.gpio")
    selftest.add_argument("--seconds", type=float, default=2.0, help="per state (default 2)")
    selftest.add_argument("--wait-press", type=float, default=15.0, metavar="SECONDS",
                          help="how long to wait for the staff button (default 15)")
    selftest.set_defaults(handler=cmd_selftest)

    decode = sub.add_parser("decode", help="decode image files or folders, one JSON line each")
    decode.add_argument("paths", nargs="+", metavar="PATH")
    decode.add_argument("--backend", choices=DECODER_BACKENDS, default=DECODER_BACKENDS[0])
    decode.add_argument(
        "--all", action="store_true",
        help='every code read, Diia or not, each marked "diia": true or false',
    )
    decode.set_defaults(handler=cmd_decode)

    check = sub.add_parser("check", help="one check of a typed 13-digit code",
                           epilog=CHECK_EXIT_HELP)
    check.add_argument("code", metavar="CODE", help="13 digits, or a Diia QR's link")
    check.add_argument("--mode", choices=MODES, help="override kiosk.mode")
    check.add_argument("--config", help=CONFIG_HELP)
    for flag in ("last", "first", "middle"):  # the partner's data for mode "name"
        check.add_argument(f"--{flag}-name", metavar="TEXT",
                           help='mode "name": the name the holder must have')
    check.set_defaults(handler=cmd_check)

    sandbox = sub.add_parser("sandbox", help="run the Diia emulator alone, with an admin API")
    sandbox.add_argument("--port", type=int, default=8790, help="default 8790; 0 = any free port")
    sandbox.set_defaults(handler=cmd_sandbox)

    from kiosk.ops import configtool, doctor, fleettool  # light: heavy imports wait for the run

    doctor.add_parser(sub)
    configtool.add_parser(sub)
    fleettool.add_parser(sub)
    _describe_commands(parser)
    return parser


def _describe_commands(parser: argparse.ArgumentParser) -> None:
    """Each command's own --help opens with the line the list of commands shows for it
    (argparse keeps `help=` for the list only)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                command = action.choices[listed.dest]
                if command.description is None and listed.help:
                    command.description = f"{listed.help[0].upper()}{listed.help[1:]}."
                _describe_commands(command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        status: int = args.handler(args)
        return status
    except ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # whoever read our output went away: nothing to tell them
        return EXIT_FAILURE
    except Exception as exc:  # the last word: one clear line, the traceback only with -v
        log.debug("unhandled error", exc_info=True)
        print(f"kiosk: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        _settle_stdout()


def _settle_stdout() -> None:
    """A POS that stopped reading our stdout must not turn a clean end into a failure: what
    could not be written is dropped here, not raised again by Python at exit."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

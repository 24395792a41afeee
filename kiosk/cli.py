"""The `kiosk` command. Exit codes: 0 ok, 2 usage or config error, 1 anything else."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kiosk import __version__
from kiosk.config import ConfigError, config_path, load_config, load_credentials

log = logging.getLogger("kiosk")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
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
    from kiosk.bootstrap import build_appliance, use_headless_display_if_needed

    path = config_path(args.config, os.environ)
    config = load_config(path)
    credentials = load_credentials(config.diia)
    if config.signals.screen == "pygame":
        use_headless_display_if_needed()
    appliance = build_appliance(config, credentials)
    log.info("kiosk %s running: mode %s, source %s (config %s)",
             __version__, config.kiosk.mode, config.source.kind, path)
    appliance.run()
    log.info("source ended after %d verdicts", appliance.kiosk.verdicts)
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


def cmd_decode(args: argparse.Namespace) -> int:
    from kiosk.decode import make_decoder
    from kiosk.sources.images import ImageFrames, SourceError

    decoder = make_decoder(args.backend)
    try:
        paths = ImageFrames.expand(args.paths)
    except SourceError as exc:
        print(f"kiosk decode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in paths:
        frame = ImageFrames.load(path)
        if frame is None:
            print(json.dumps({"path": str(path), "error": "cannot read image"}))
            continue
        started = time.perf_counter()
        codes = decoder.decode(frame)
        ms = (time.perf_counter() - started) * 1000
        print(json.dumps({
            "path": str(path),
            "codes": [{"format": code.symbology, "text": code.text} for code in codes],
            "ms": round(ms, 1),
        }))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kiosk.bootstrap import build_checker, build_client
    from kiosk.signals.events import verdict_event
    from kiosk.sources.stdin import parse_typed

    code = parse_typed(args.code)
    if code is None:
        print("kiosk check: not a Diia code (13 digits, valid check digit, first digit not 0)",
              file=sys.stderr)
        return EXIT_USAGE
    config = load_config(config_path(args.config, os.environ))
    if args.mode:
        config = replace(config, kiosk=replace(config.kiosk, mode=args.mode))
    with build_client(config, load_credentials(config.diia)) as client:
        verdict = build_checker(config, client).check(code)
    print(json.dumps(verdict_event(verdict), ensure_ascii=False))
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from kiosk.diia.sandbox import DiiaSandbox

    with DiiaSandbox(port=args.port) as sandbox:
        creds = sandbox.credentials
        print(f"Diia sandbox listening on {sandbox.base_url} (Ctrl-C to stop)", flush=True)
        print(f"  KIOSK_DIIA_ACQUIRER_TOKEN={creds.acquirer_token}")
        print(f"  KIOSK_DIIA_AUTH_TOKEN={creds.auth_token}")
        print(f"  branch_id = \"{sandbox.branch_id}\"")
        for state in ("valid", "not_valid", "expired", "used"):
            print(f"  a {state} code: {sandbox.mint(state)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
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
    demo.add_argument("--language", choices=("uk", "en"), default="uk")
    demo.set_defaults(handler=cmd_demo)

    decode = sub.add_parser("decode", help="decode image files or folders, one JSON line each")
    decode.add_argument("paths", nargs="+", metavar="PATH")
    decode.add_argument("--backend", choices=("zxing", "pyzbar"), default="zxing")
    decode.set_defaults(handler=cmd_decode)

    check = sub.add_parser("check", help="one check of a typed 13-digit code")
    check.add_argument("code", metavar="CODE")
    check.add_argument("--mode", choices=("validate", "age", "name"))
    check.add_argument("--config", help=CONFIG_HELP)
    check.set_defaults(handler=cmd_check)

    sandbox = sub.add_parser("sandbox", help="run the Diia emulator alone")
    sandbox.add_argument("--port", type=int, default=8790)
    sandbox.set_defaults(handler=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # the last word: one clear line, the traceback only with -v
        log.debug("unhandled error", exc_info=True)
        print(f"kiosk: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE

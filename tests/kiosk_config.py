"""The kiosk TOML that tests hand to a `kiosk run` or `kiosk check` process.

The defaults are what those tests share: validation, unattended, the next code at once, codes
typed on stdin, no GPIO and no screen, verdicts as JSON lines on stdout, metrics off and no
wait for a synchronised clock. An option set to None leaves its key out, so the kiosk's own
default applies; the `*_extra` options add raw TOML lines to their section, `extra` whole
sections at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.diia.sandbox import DiiaSandbox

Value = str | Path | bool | int | float | None


def _toml_value(value: str | Path | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    return str(value)


def _section(name: str, keys: dict[str, Value], extra: str = "") -> str:
    lines = [f"{key} = {_toml_value(value)}" for key, value in keys.items() if value is not None]
    if extra:
        lines.append(extra.rstrip("\n"))
    return f"[{name}]\n" + "".join(f"{line}\n" for line in lines) if lines else ""


def kiosk_toml(
    base_url: str,
    branch_id: str,
    *,
    mode: str = "validate",
    min_age: int | None = None,
    attended: bool | None = False,
    result_seconds: float = 0,
    language: str | None = None,
    state_dir: Path | None = None,
    kiosk_extra: str = "",
    timeout_s: float | None = 2.0,
    source: str = "stdin",
    source_path: Path | None = None,
    hold_frames: int | None = None,
    gpio: str = "off",
    screen: str = "off",
    events: str | None = "stdout",
    metrics_port: int = 0,
    require_sync: bool | None = False,
    listen: str | None = None,
    api_extra: str = "",
    extra: str = "",
) -> str:
    """A kiosk config asking Diia at `base_url` for branch `branch_id`; `listen` opens the
    till's API there."""
    sections = [
        _section("kiosk", {"mode": mode, "min_age": min_age, "attended": attended,
                           "result_seconds": result_seconds, "language": language,
                           "state_dir": state_dir}, kiosk_extra),
        _section("diia", {"base_url": base_url, "branch_id": branch_id,
                          "timeout_s": timeout_s}),
        _section("source", {"kind": source, "path": source_path, "hold_frames": hold_frames}),
        _section("signals", {"gpio": gpio, "screen": screen, "events": events}),
        _section("metrics", {"port": metrics_port}),
        _section("clock", {"require_sync": require_sync}),
        _section("api", {"listen": listen}, api_extra) if listen else "",
        extra,
    ]
    return "\n".join(section for section in sections if section)


def write_kiosk_config(path: Path, sandbox: DiiaSandbox, **options: Any) -> Path:
    """`kiosk_toml(**options)` asking the Diia sandbox, written to `path`; `path` back."""
    path.write_text(kiosk_toml(sandbox.base_url, sandbox.branch_id, **options))
    return path

"""The embedded Diia sandbox: an emulator of the partner API served for real on loopback.

`emulator.DiiaSandbox` holds the state and serves it; `rules` are the emulated Diia's
judgements (pure), `faults` the ways it can be told to misbehave, `http_server` the HTTP/1.1
server under it, `admin` the admin API a POS developer drives it through.
"""

from kiosk.diia.sandbox.emulator import DiiaSandbox

__all__ = ["DiiaSandbox"]

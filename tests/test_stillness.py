"""The change gate on real frames from the renderer, through the real default decoder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kiosk.decoding import code_images
from kiosk.decoding.decode import ZxingDecoder, make_decoder
from kiosk.decoding.stillness import ChangeGate
from kiosk.model import Frame

DIGITS = "3559217693026"
URL = "https://diia.app/documents/internal-passport/1234567890/verify/3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def counter(seed: int, noise: float = 5.0) -> np.ndarray:
    """An empty counter: a shelf edge, a price label, a gradient; sensor noise on top."""
    rng = np.random.default_rng(seed)
    scene = np.broadcast_to(np.linspace(70, 140, 640, dtype=np.float32), (480, 640)).copy()
    scene[330:360, :] = 40
    scene[130:210, 450:550] = 220
    return np.clip(scene + rng.normal(0, noise, scene.shape), 0, 255).astype(np.uint8)


def with_phone(pixels: np.ndarray, screen: Image.Image, seed: int) -> np.ndarray:
    """The counter with a phone held over its middle."""
    phone = np.asarray(code_images.phone_photo(screen, size=(640, 480), scale=0.4, angle=4.0,
                                          blur=0.6, noise=4.0, seed=seed))
    out = pixels.copy()
    out[40:440, 120:520] = phone[40:440, 120:520]
    return out


@pytest.fixture
def gate() -> ChangeGate:
    return make_decoder("zxing")  # type: ignore[return-value]


def test_a_still_noisy_scene_is_decoded_only_every_few_frames(gate: ChangeGate) -> None:
    codes = [gate.decode(Frame(counter(seed), 0.0)) for seed in range(24)]
    assert codes == [[]] * 24
    assert gate.decoded == 24 // gate.every and gate.skipped == 24 - gate.decoded


def test_a_phone_entering_is_decoded_on_the_frame_it_appears(gate: ChangeGate) -> None:
    for seed in range(5):
        assert gate.decode(Frame(counter(seed), 0.0)) == []
    before = gate.decoded
    frame = Frame(with_phone(counter(5), code_images.render_qr(URL), seed=1), 0.0)
    assert [c.text for c in gate.decode(frame)] == [URL]
    assert gate.decoded == before + 1


def test_a_phone_held_still_is_decoded_on_every_frame(gate: ChangeGate) -> None:
    screen = code_images.render_ean13(DIGITS)
    held = [with_phone(counter(seed), screen, seed=7) for seed in range(6)]
    reads = [[c.text for c in gate.decode(Frame(pixels, 0.0))] for pixels in held]
    assert reads == [[DIGITS]] * 6
    assert gate.skipped == 0


def test_after_a_code_leaves_the_gate_settles_back(gate: ChangeGate) -> None:
    screen = code_images.render_qr(URL)
    gate.decode(Frame(with_phone(counter(0), screen, seed=2), 0.0))
    empty = [gate.decode(Frame(counter(seed), 0.0)) for seed in range(1, 17)]
    assert empty == [[]] * 16
    assert gate.skipped >= 16 - 3  # the phone leaving, then a decode every `every` frames


def test_read_all_always_decodes() -> None:
    gate = ChangeGate(ZxingDecoder())
    frame = Frame(with_phone(counter(0), code_images.render_qr(URL), seed=3), 0.0)
    assert gate.decode(frame) != []
    assert [r.text for r in gate.read_all(frame)] == [URL]
    assert [r.text for r in gate.read_all(frame)] == [URL]


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        ChangeGate(ZxingDecoder(), every=0)

"""ImageFrames: images as a held phone in front of a camera."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.sources import FrameSource
from kiosk.sources.images import ImageFrames, SourceError
from tests.fakes.clock import FakeClock


def gray(value: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    return Image.new("L", size, value)


def save(path: Path, value: int) -> Path:
    # Flat images survive JPEG exactly (and WebP when lossless), so the gray value names the file.
    gray(value).save(path, lossless=True) if path.suffix == ".webp" else gray(value).save(path)
    return path


def values(source: ImageFrames) -> list[int]:
    return [int(frame.pixels[0, 0]) for frame in source.frames()]


def test_each_image_is_held_for_hold_frames_frames() -> None:
    source = ImageFrames([gray(10), gray(20)], hold_frames=3)
    assert values(source) == [10, 10, 10, 20, 20, 20]


def test_frames_are_read_only_grayscale_uint8() -> None:
    frames = list(ImageFrames([Image.new("RGB", (8, 6), (255, 0, 0))], hold_frames=1).frames())
    pixels = frames[0].pixels
    assert pixels.shape == (6, 8) and pixels.dtype == np.uint8
    assert int(pixels[0, 0]) == 76  # ITU-R 601 luma of pure red
    with pytest.raises(ValueError):
        pixels[0, 0] = 0


def test_is_a_frame_source_and_can_be_replayed() -> None:
    source: FrameSource = ImageFrames([gray(5)], hold_frames=2)
    assert len(list(source.frames())) == 2
    assert len(list(source.frames())) == 2


def test_hold_frames_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="hold_frames"):
        ImageFrames([gray(1)], hold_frames=0)


def test_folder_is_expanded_sorted_with_images_only(tmp_path: Path) -> None:
    save(tmp_path / "b.png", 20)
    save(tmp_path / "a.JPG", 10)
    save(tmp_path / "c.jpeg", 30)
    save(tmp_path / "d.BMP", 40)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    save(tmp_path / "sub" / "0.png", 99)  # folders are not searched recursively
    source = ImageFrames.from_paths([tmp_path], hold_frames=1)
    assert values(source) == [10, 20, 30, 40]


def test_files_and_folders_keep_the_order_given(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    save(folder / "x.png", 50)
    single = save(tmp_path / "single.webp", 60)
    source = ImageFrames.from_paths([str(single), folder], hold_frames=1)
    assert values(source) == [60, 50]


def test_expand_lists_the_files_and_load_reads_one(tmp_path: Path) -> None:
    save(tmp_path / "2.png", 20)
    save(tmp_path / "1.png", 10)
    (tmp_path / "3.png").write_bytes(b"garbage")
    paths = ImageFrames.expand([tmp_path])
    assert [p.name for p in paths] == ["1.png", "2.png", "3.png"]
    frame = ImageFrames.load(paths[1])
    assert frame is not None and int(frame.pixels[0, 0]) == 20
    assert ImageFrames.load(paths[2]) is None


def test_missing_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"missing\.png"):
        ImageFrames.from_paths([tmp_path / "missing.png"])


def test_folder_without_images_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing to see")
    with pytest.raises(SourceError, match="no images"):
        ImageFrames.from_paths([tmp_path])


def test_no_paths_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        ImageFrames.from_paths([])


def test_unreadable_image_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(tmp_path / "1.png", 10)
    (tmp_path / "2.png").write_bytes(b"\x89PNG but not really")
    save(tmp_path / "3.png", 30)
    with caplog.at_level(logging.WARNING, logger="kiosk.sources.images"):
        got = values(ImageFrames.from_paths([tmp_path], hold_frames=2))
    assert got == [10, 10, 30, 30]
    assert "2.png" in caplog.text


def test_images_are_loaded_one_at_a_time(tmp_path: Path) -> None:
    first, second = save(tmp_path / "1.png", 10), save(tmp_path / "2.png", 20)
    frames = ImageFrames.from_paths([tmp_path], hold_frames=1).frames()
    assert int(next(frames).pixels[0, 0]) == 10
    save(second, 77)  # changed after the source started: the new content is what is read
    assert int(next(frames).pixels[0, 0]) == 77
    assert first.exists()


def test_fps_paces_frames_with_the_injected_clock() -> None:
    clock = FakeClock()
    source = ImageFrames([gray(1), gray(2)], hold_frames=2, fps=10, clock=clock, sleep=clock.sleep)
    stamps = [frame.timestamp for frame in source.frames()]
    assert stamps == pytest.approx([100.0, 100.1, 100.2, 100.3])
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1])


def test_fps_counts_the_consumers_own_time() -> None:
    clock = FakeClock()
    source = ImageFrames([gray(1)], hold_frames=3, fps=10, clock=clock, sleep=clock.sleep)
    stamps = []
    for frame in source.frames():
        stamps.append(frame.timestamp)
        clock.now += 0.04  # the loop's work on the frame
    assert stamps == pytest.approx([100.0, 100.1, 100.2])
    assert clock.sleeps == pytest.approx([0.06, 0.06])


def test_fps_does_not_burst_after_a_stall() -> None:
    clock = FakeClock()
    source = ImageFrames([gray(1)], hold_frames=4, fps=10, clock=clock, sleep=clock.sleep)
    frames = source.frames()
    next(frames)
    clock.now += 1.0  # the consumer stalled for ten periods
    stamps = [frame.timestamp for frame in frames]
    assert stamps == pytest.approx([101.0, 101.1, 101.2])


def test_fps_zero_never_sleeps() -> None:
    clock = FakeClock()
    source = ImageFrames([gray(1)], hold_frames=5, clock=clock, sleep=clock.sleep)
    assert len(list(source.frames())) == 5
    assert clock.sleeps == []

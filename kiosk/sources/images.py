"""Image files or in-memory images as a camera: the `images` source (demo, tests, batch runs).

Each image stands for a phone held in front of the camera, so it is yielded `hold_frames`
times, which is also what lets a 1D read be confirmed over frames. Images are loaded one at
a time, when their turn comes, so a large folder costs the memory of one image.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.model import Frame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
MAX_SIDE = 16384  # pixels per side
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo still passes; 50 MB as grayscale


class SourceError(Exception):
    """The source cannot start: a path is missing, or a folder holds no images."""


class ImageFrames:
    """A `FrameSource` over image files (`Path`) and/or in-memory `PIL.Image.Image`s.

    Every image becomes a grayscale `uint8` array (read-only, shared by its `hold_frames`
    frames). `fps` > 0 paces the frames with the injected `clock` and `sleep`; 0 yields them
    as fast as the consumer takes them. A file that cannot be read is logged and skipped.
    """

    def __init__(
        self,
        images: Sequence[Path | str | Image.Image],
        hold_frames: int = 3,
        fps: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if hold_frames < 1:
            raise ValueError(f"hold_frames must be at least 1, got {hold_frames}")
        if fps < 0:
            raise ValueError(f"fps must not be negative, got {fps}")
        self.images = list(images)
        self.hold_frames = hold_frames
        self.fps = fps
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | Path],
        hold_frames: int = 3,
        fps: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ImageFrames:
        """A source over `expand(paths)`; raises `SourceError` as `expand` does."""
        files = cls.expand(paths)
        return cls(files, hold_frames=hold_frames, fps=fps, clock=clock, sleep=sleep)

    @staticmethod
    def expand(paths: Iterable[str | Path]) -> list[Path]:
        """Files as given, folders expanded to their images (sorted by name, not recursive).

        Raises `SourceError` for a path that does not exist, a folder without images, or no
        paths at all: a typo in the config should stop the start, not give an empty run.
        """
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                try:
                    found = sorted(
                        (p for p in path.iterdir() if p.is_file() and is_image_name(p)),
                        key=lambda p: p.name,
                    )
                except OSError as exc:  # no permission to list it, or it vanished
                    raise SourceError(f"cannot list folder {path}: {exc.strerror}") from None
                if not found:
                    suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                    raise SourceError(f"no images ({suffixes}) in folder {path}")
                files.extend(found)
            elif path.is_file():
                files.append(path)  # named explicitly: tried whatever its suffix
            else:
                raise SourceError(f"image path does not exist: {path}")
        if not files:
            raise SourceError("no image paths given")
        return files

    @staticmethod
    def load(image: Path | str | Image.Image) -> Frame | None:
        """One image as one frame (for `kiosk decode`); None, logged, when it cannot be read."""
        pixels = _load(image)
        return None if pixels is None else Frame(pixels, time.monotonic())

    def frames(self) -> Iterator[Frame]:
        period = 1.0 / self.fps if self.fps > 0 else 0.0
        due: float | None = None
        for item in self.images:
            pixels = _load(item)
            if pixels is None:
                continue
            for _ in range(self.hold_frames):
                if period:
                    now = self._clock()
                    if due is None or now - due > period:
                        due = now  # first frame, or the consumer fell behind: no catch-up burst
                    elif now < due:
                        self._sleep(due - now)
                    due += period
                yield Frame(pixels, self._clock())


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_size_problem(width: int, height: int) -> str | None:
    """Why an image of this size is not taken as a frame, or None when it is.

    Checked on the header, before a pixel is decoded: a 1×200000 strip is more than the
    decoders take (zxing-cpp stops at 65535 per side), and a small file can declare a
    gigapixel image (a decompression bomb). The limits sit far above any camera mode and
    any phone photo."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return f"{width}x{height} pixels: each side must be 1..{MAX_SIDE}"
    if width * height > MAX_PIXELS:
        return f"{width}x{height} pixels: more than {MAX_PIXELS // 1_000_000} megapixels"
    return None


def _load(item: Path | str | Image.Image) -> np.ndarray | None:
    try:
        if isinstance(item, Image.Image):
            return _checked_gray(item)
        with warnings.catch_warnings():  # Pillow's own bomb warning: ours is stricter
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(Path(item))
        with image:
            return _checked_gray(image)
    except ImageTooLarge as exc:
        logger.warning("skipping image %s: %s", _name(item), exc)
    # Image files are outside input: Pillow's plugins raise more than OSError on damaged
    # ones (SyntaxError, struct.error, EOFError, IndexError...). One file is never worth
    # the run, so any failure makes it an unreadable image.
    except Exception as exc:
        logger.warning("skipping unreadable image %s: %s: %s", _name(item),
                       type(exc).__name__, str(exc)[:200])
    return None


def _name(item: Path | str | Image.Image) -> str:
    return "(in memory)" if isinstance(item, Image.Image) else str(item)


class ImageTooLarge(ValueError):
    """The image's declared size is out of bounds (see `image_size_problem`)."""


def _checked_gray(image: Image.Image) -> np.ndarray:
    problem = image_size_problem(*image.size)
    if problem is not None:
        raise ImageTooLarge(problem)
    return _to_gray(image)


def _to_gray(image: Image.Image) -> np.ndarray:
    pixels = np.array(image.convert("L"), dtype=np.uint8)
    pixels.setflags(write=False)  # shared by the held frames: nobody may draw on it
    return pixels

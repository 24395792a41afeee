"""Colour as people with a colour vision deficiency see it, and how far apart two colours are.

Simulation: Machado, Oliveira and Fernandes (2009), "A physiologically-based model for
simulation of color vision deficiency", the matrices for severity 1.0 (complete
protanopia, deuteranopia, tritanopia), applied to linear RGB. Distance: CIE76 ΔE, the
Euclidean distance in CIELAB (D65).
"""

from __future__ import annotations

import numpy as np

VISIONS: dict[str, np.ndarray | None] = {
    "normal": None,
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}

_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                         [0.2126, 0.7152, 0.0722],
                         [0.0193, 0.1192, 0.9505]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def linear(rgb: tuple[int, ...]) -> np.ndarray:
    c = np.asarray(rgb[:3], dtype=float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def simulate(rgb: tuple[int, ...], vision: str) -> np.ndarray:
    """The colour seen, as linear RGB clipped to what a screen can show."""
    matrix = VISIONS[vision]
    seen = linear(rgb) if matrix is None else matrix @ linear(rgb)
    return np.clip(seen, 0.0, 1.0)


def lab(linear_rgb: np.ndarray) -> np.ndarray:
    xyz = _SRGB_TO_XYZ @ linear_rgb / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: tuple[int, ...], b: tuple[int, ...], vision: str = "normal") -> float:
    """CIE76 distance between two sRGB colours as seen with `vision`."""
    return float(np.linalg.norm(lab(simulate(a, vision)) - lab(simulate(b, vision))))

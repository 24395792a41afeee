"""Do the bars in a patch draw the digits read? Evidence for a 1D read that no decoder's own
error can fake.

Two readings of the same damaged bars can agree on the same wrong digits: both libraries
measure the widths of a few neighbouring bars and spaces and round them to whole modules, so
a space narrowed by blur or a moiré fringe turns a 5 into a 7 for both (a one-module shift
that can change a digit's parity with it, and a valid check digit follows 1 time in 10). This
check asks the pixels instead. It draws the module pattern of the text read (95 modules for
EAN-13, 11 a character for Code 128) and lays it over scan lines spread across the bars'
height:

1. on each line, the symbol is found between quiet zones at least `QUIET` modules wide, the
   pattern's edges are followed along the line's edges one by one, and a smooth warp (a cubic
   in the module number: the module width changes smoothly along a tipped phone or a curved
   label, never jumps) is fitted to them; a line whose edges stray from it by more than
   `MAX_RESIDUAL` of a module on average does not show this pattern;
2. every module's lightness is sampled at its centre on each line that fits, and averaged
   over those lines;
3. every character (an EAN-13 digit in its L, G or R code, or a Code 128 symbol character)
   and the guard patterns must match the modules better than any other character that could
   stand in its place, by `MARGIN`.

A read passes only when `MIN_LINES` lines fit and every character wins. A true read of a soft
symbol may fail (it is then left to the next frame); a misread fails at the characters it got
wrong, since the pixels there are what the true digits draw.
"""

from __future__ import annotations

import functools

import numpy as np

QUIET = 5.0  # modules of light either side of the symbol
MAX_RESIDUAL = 0.3  # mean edge misfit, in modules
MIN_LINES = 3
ENOUGH_LINES = 4  # averaged over more, the modules are hardly clearer
LINES = 11
MARGIN = 0.4  # how much better than the runner-up a character must score (a module: ±2)

# EAN-13's L codes; R codes are their complement, G codes the R codes reversed.
_L = ("0001101", "0011001", "0010011", "0111101", "0100011",
      "0110001", "0101111", "0111011", "0110111", "0001011")
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
           "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def _r(code: str) -> str:
    return "".join("1" if c == "0" else "0" for c in code)


def _g(code: str) -> str:
    return _r(code)[::-1]


_LEFT_SET = tuple(_L) + tuple(_g(c) for c in _L)
_RIGHT_SET = tuple(_r(c) for c in _L)


def ean13_pattern(digits: str) -> tuple[str, list[tuple[int, str, tuple[str, ...]]]]:
    """The 95 modules of an EAN-13 symbol ("1" dark), and its characters as (first module,
    code, the codes that could stand in its place)."""
    parity = _PARITY[int(digits[0])]
    chars: list[tuple[int, str, tuple[str, ...]]] = [(0, "101", ("101",))]
    modules = "101"
    for i, d in enumerate(digits[1:7]):
        code = _L[int(d)] if parity[i] == "L" else _g(_L[int(d)])
        chars.append((len(modules), code, _LEFT_SET))
        modules += code
    chars.append((len(modules), "01010", ("01010",)))
    modules += "01010"
    for d in digits[7:]:
        code = _r(_L[int(d)])
        chars.append((len(modules), code, _RIGHT_SET))
        modules += code
    chars.append((len(modules), "101", ("101",)))
    return modules + "101", chars


@functools.cache
def _code128_set() -> tuple[str, ...]:
    """Every Code 128 character's 11 modules, from zxing-cpp's writer: code set C's 00-99 (the
    pairs of digits a Diia code is made of) and the start and shift characters."""
    import zxingcpp

    found: set[str] = set()
    for text in [f"{v:02d}{v:02d}" for v in range(100)] + ["1", "12345678901231"]:
        row = _modules(text, zxingcpp.BarcodeFormat.Code128)
        found.update(row[i : i + 11] for i in range(0, len(row) - 13, 11))
    return tuple(sorted(found))


def _modules(text: str, fmt: object) -> str:
    import zxingcpp

    symbol = zxingcpp.create_barcode(text, fmt)  # type: ignore[arg-type]
    row = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))[0]
    return "".join("1" if v < 128 else "0" for v in row)


def code128_pattern(text: str) -> tuple[str, list[tuple[int, str, tuple[str, ...]]]]:
    import zxingcpp

    modules = _modules(text, zxingcpp.BarcodeFormat.Code128)
    alternatives = _code128_set()
    chars = [(i, modules[i : i + 11], alternatives) for i in range(0, len(modules) - 13, 11)]
    chars.append((len(modules) - 13, modules[-13:], (modules[-13:],)))  # the stop pattern
    return modules, chars


def drawn(patch: np.ndarray, text: str, symbology: str) -> bool:
    """Whether the bars of `patch` (running down it, the symbol across its middle, quiet zones
    included) draw `text` in `symbology` ("EAN-13" or "Code128")."""
    return not why_not(patch, text, symbology)


def why_not(patch: np.ndarray, text: str, symbology: str) -> str:
    """Why the bars of `patch` do not draw `text` ("" when they do; for `drawn` and the
    benchmarks' reasons)."""
    if symbology == "EAN-13":
        modules, chars = ean13_pattern(text)
    elif symbology == "Code128":
        modules, chars = code128_pattern(text)
    else:
        raise ValueError(f"no bar pattern for {symbology}")
    pattern = np.frombuffer(modules.encode(), dtype=np.uint8) == ord("1")
    if min(patch.shape) < 8 or max(patch.shape) < 2 * len(modules):
        return "under half a pixel a module"
    samples = []
    # Under about 2.5 px a module, lines sampled every half pixel give the edges room.
    step = 0.5 if max(patch.shape) < 4 * len(modules) else 1.0
    lines = _lines(patch.astype(np.float32), step)
    ways = [1, -1]  # either way: a phone upside down shows the pattern reversed
    for n, line in enumerate(lines):
        for way in ways:
            fitted = _fit(line[::way], pattern)
            if fitted is not None:
                samples.append(fitted)
                ways = [way]  # the symbol lies the same way on every line
                break
        if len(samples) == ENOUGH_LINES:
            break
        if len(samples) + len(lines) - n - 1 < MIN_LINES:
            return f"fewer than {MIN_LINES} scan lines fit the pattern"
    lightness = np.mean(samples, axis=0)  # per module, -1 dark .. +1 light
    for start, code, alternatives in chars:
        part = lightness[start : start + len(code)]
        others = [alt for alt in alternatives if alt != code]
        if not others:  # a guard: its edges were fitted already
            continue
        mine = float(_signs((code,)) @ part)
        rival = float((_signs(tuple(others)) @ part).max())
        if mine < rival + MARGIN:
            return "another character matches the modules better" if mine < rival else (
                "a character matches by less than the margin")
    return ""


@functools.cache
def _signs(codes: tuple[str, ...]) -> np.ndarray:
    """+1 for each light module, -1 for each dark one; a row a code."""
    return np.array([[-1.0 if c == "1" else 1.0 for c in code] for code in codes],
                    dtype=np.float32).squeeze(0) if len(codes) == 1 else np.array(
        [[-1.0 if c == "1" else 1.0 for c in code] for code in codes], dtype=np.float32)


def _lines(values: np.ndarray, step: float = 1.0) -> list[np.ndarray]:
    """`LINES` scan lines across the bars, spread over the middle of their height: each the
    mean of three parallel lines a pixel apart, sampled bilinearly every `step` pixels along
    the direction the patch's edges face (bars tilted in the patch are crossed square)."""
    height, width = values.shape
    coarse = values[::2, ::2]  # the bars' direction needs no more
    gx = coarse[:-1, 1:] - coarse[:-1, :-1]
    gy = coarse[1:, :-1] - coarse[:-1, :-1]
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # across the bars
    c, s = np.cos(theta), np.sin(theta)
    half = 0.5 * np.hypot(height, width)
    t = np.arange(-half, half, step, dtype=np.float32)
    # Along the bars, from the patch's middle outwards to ±20 % of its width: a Diia symbol's
    # bars are at least a fifth as tall as long and the patch at most 1.5× the symbol, but
    # a patch is centred on the scan line that read it, which may lie near the bars' end.
    steps = np.arange(LINES) - LINES // 2
    across = steps[np.argsort(np.abs(steps), kind="stable")] * (0.4 / (LINES - 1)) * width
    offsets = (across[:, None] + np.array([-1.0, 0.0, 1.0])).ravel()[:, None]
    xs = width / 2 + t * c - offsets * s
    ys = height / 2 + t * s + offsets * c
    inside = (xs >= 0) & (xs <= width - 1.001) & (ys >= 0) & (ys <= height - 1.001)
    x0 = np.clip(xs, 0, width - 1.001).astype(np.intp)
    y0 = np.clip(ys, 0, height - 1.001).astype(np.intp)
    fx, fy = np.clip(xs, 0, width - 1.001) - x0, np.clip(ys, 0, height - 1.001) - y0
    top = values[y0, x0] * (1 - fx) + values[y0, x0 + 1] * fx
    bottom = values[y0 + 1, x0] * (1 - fx) + values[y0 + 1, x0 + 1] * fx
    sampled = (top * (1 - fy) + bottom * fy).reshape(LINES, 3, -1).mean(axis=1)
    valid = inside.reshape(LINES, 3, -1).all(axis=1)
    lines = []
    for line, ok in zip(sampled, valid, strict=True):
        where = np.flatnonzero(ok)
        if where.size > 16:
            lines.append(line[where[0] : where[-1] + 1])
    return lines


def _fit(line: np.ndarray, pattern: np.ndarray) -> np.ndarray | None:
    """The pattern's modules' lightness (-1 dark .. +1 light) along `line`, or None when the
    line does not show the pattern between quiet zones with consistent module widths."""
    n = pattern.size
    ordered = np.partition(line, (line.size // 20, line.size - 1 - line.size // 20))
    lo, hi = ordered[line.size // 20], ordered[line.size - 1 - line.size // 20]
    if hi - lo < 8:  # no contrast: nothing to read
        return None
    # Dark against the line's own neighbourhood (an eighth of it), not one level for all: a
    # glare's bright blob or a shadow shifts the levels along the line.
    dark = line < _local_mean(line, max(8, line.size // 8)) - 0.05 * (hi - lo)
    m, rising, vander, solve = _edges(pattern.tobytes())
    grad = np.gradient(line).tolist()
    steps, ups = m.astype(int).tolist(), rising.tolist()
    for x0, x1 in _locate(dark, n):
        width = (x1 - x0) / n
        found = _track(grad, steps, ups, x0, width)
        if found is None:
            continue
        coeffs = solve @ found  # a smooth warp: a tipped phone, a lens, a curved label
        if float(np.mean(np.abs(vander @ coeffs - found))) <= MAX_RESIDUAL * width:
            break
    else:
        return None
    centres = np.polyval(coeffs, np.arange(n) + 0.5)  # each module's middle
    seen = np.interp(centres, np.arange(line.size), line)
    # Dark and light levels within 8 modules either side (by the pattern read: a misread
    # differs from it in a few modules only), so that glare along the bars lifts both.
    window = np.ones(17, dtype=np.float32)
    dark_n = np.convolve(pattern, window, mode="same")
    light_n = np.convolve(~pattern, window, mode="same")
    dark_level = np.convolve(seen * pattern, window, mode="same") / np.maximum(dark_n, 1)
    light_level = np.convolve(seen * ~pattern, window, mode="same") / np.maximum(light_n, 1)
    half = (light_level - dark_level) / 2
    if float(np.median(half)) < 2:  # no contrast left
        return None
    return np.clip((seen - dark_level - half) / np.maximum(half, 1.0), -1.5, 1.5)


def _local_mean(line: np.ndarray, window: int) -> np.ndarray:
    padded = np.pad(line, (window // 2, window - window // 2), mode="edge")
    sums = np.cumsum(np.concatenate([[0.0], padded]))
    return (sums[window:] - sums[:-window])[: line.size] / window


@functools.cache
def _edges(packed: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a pattern (its bools' bytes): the module numbers of its edges (both ends
    included), whether each is dark→light, their Vandermonde matrix (m², m, 1) and its
    least-squares solver."""
    pattern = np.frombuffer(packed, dtype=bool)
    bounds = np.flatnonzero(pattern[1:] != pattern[:-1]) + 1
    m = np.concatenate([[0], bounds, [pattern.size]]).astype(np.float64)
    rising = np.concatenate([[False], ~pattern[bounds], [True]])
    vander = np.vander(m, 4)
    return m, rising, vander, np.linalg.pinv(vander)


def _track(grad: list[float], m: list[int], rising: list[bool], x0: float, width: float
           ) -> np.ndarray | None:
    """The pattern's edges found along a line, one after the other: each looked for within
    half a module of where the last one and the module width so far put it (the width
    follows the symbol's own, slowly). Plain Python: some sixty short steps a line, where
    numpy's per-call cost would dominate."""
    found = [0.0] * len(m)
    position = x0
    last = len(grad) - 2
    for i, (module, up) in enumerate(zip(m, rising, strict=True)):
        if i:
            position = found[i - 1] + (module - m[i - 1]) * width
        reach = max(1, round(0.5 * width))
        centre = round(position)
        if centre - reach < 1 or centre + reach > last:
            return None
        window = grad[centre - reach : centre + reach + 1]
        best = max(window) if up else min(window)
        found[i] = centre - reach + window.index(best)
        if i:
            width = 0.7 * width + 0.3 * (found[i] - found[i - 1]) / (module - m[i - 1])
    return np.array(found)


def _locate(dark: np.ndarray, n: int) -> list[tuple[float, float]]:
    """Where the symbol may start and end along a line, likeliest first: from the bar nearest
    the line's middle out to one of the three widest light runs on either side (the quiet
    zones, at least `QUIET` modules wide, where a symbol's own spaces and bars are at most 4,
    8 where blur joins them;
    moiré or glare can break a quiet zone or open a wide space inside the symbol)."""
    edges = np.flatnonzero(np.diff(dark.astype(np.int8))) + 1
    starts = edges[dark[edges]]  # light→dark: a bar starts
    ends = edges[~dark[edges]]  # dark→light: a bar ends
    if dark[0]:
        starts = np.concatenate([[0], starts])
    if dark[-1]:
        ends = np.concatenate([ends, [dark.size]])
    if starts.size < 3 or starts.size != ends.size:
        return []
    # gaps[j]: the light run before bar j (gaps[-1]: after the last bar).
    gaps = np.concatenate([[starts[0]], starts[1:] - ends[:-1], [dark.size - ends[-1]]])
    middle = int(np.argmin(np.abs((starts + ends) / 2 - dark.size / 2)))
    lefts = np.argsort(gaps[: middle + 1])[::-1][:3]
    rights = np.argsort(gaps[middle + 1 :])[::-1][:3] + middle + 1
    found = []
    for lo in lefts.tolist():
        for after in rights.tolist():
            hi = after - 1
            x0, x1 = float(starts[lo]), float(ends[hi])
            module = (x1 - x0) / n
            if module < 0.5 or min(gaps[lo], gaps[after]) < QUIET * module:
                continue
            inside = np.concatenate([gaps[lo + 1 : after], ends[lo : hi + 1] - starts[lo : hi + 1]])
            if inside.size and inside.max() > 8 * module:
                continue
            found.append((x0, x1))
    found.sort(key=lambda span: span[0] - span[1])  # the widest first
    return found[:3]

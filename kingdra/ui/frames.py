"""The Algorithm 1 stepper's frames as images for slides: PNGs in a zip, or one GIF.

Each frame is one stepper position (0 = the graph before any pick) drawn with Pillow, a
required dependency: the strong-edge graph of the Graph page's node sample on the left
(:func:`kingdra.ui.graph_view.step_view` decides what each node looks like, as in the
plotly figure), Algorithm 1's pseudocode with the step's lines lit on the right
(:mod:`kingdra.ui.pseudocode`), and the step's sentence below. Plotly's own static export
needs kaleido and a Chrome, which are not dependencies. Plain Python, no Streamlit.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kingdra.plots import (
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    UNASSIGNED_COLOR,
    category_color,
    category_symbol,
    limit_pairs,
)
from kingdra.ui.graph_view import GraphView, edges_within, step_view
from kingdra.ui.pseudocode import algorithm1_lines

SIZE = (1280, 720)  # a 16:9 slide
MAX_FRAMES = 101  # step 0 and up to 100 picks; more is not a slide deck
MAX_POS_EDGES = 3000  # edges drawn per frame (as the plotly figure, a seeded sample)
MAX_NEG_EDGES = 1500
_ASCII = {"←": "<-", "≥": ">=", "≠": "!=", "∪": "U", "…": "...", "▷": "#", "−": "-", "▶": ">"}


@lru_cache(maxsize=8)
def _font(size: int, mono: bool = False) -> tuple[ImageFont.ImageFont, bool]:
    """DejaVu when the system has it (it draws ← ≥ ∪), else Pillow's own font (ASCII)."""
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size), True
    except OSError:
        return ImageFont.load_default(size), False


def _text(draw, xy, text: str, size: int, fill="#222222", mono: bool = False) -> None:
    font, unicode_ok = _font(size, mono)
    if not unicode_ok:
        for char, plain in _ASCII.items():
            text = text.replace(char, plain)
    draw.text(xy, text, font=font, fill=fill)


def _rgba(color: str, alpha: float) -> tuple[int, int, int, int]:
    color = color.lstrip("#")
    return (*(int(color[i : i + 2], 16) for i in (0, 2, 4)), int(round(alpha * 255)))


def marker(draw: ImageDraw.ImageDraw, xy, r: float, symbol: str, fill) -> None:
    """A filled marker of radius about `r` at `xy`, in one of :data:`kingdra.plots.SYMBOLS`."""
    x, y = float(xy[0]), float(xy[1])

    def polygon(points) -> None:
        draw.polygon([(x + dx * r, y + dy * r) for dx, dy in points], fill=fill)

    if symbol == "square":
        draw.rectangle([x - 0.85 * r, y - 0.85 * r, x + 0.85 * r, y + 0.85 * r], fill=fill)
    elif symbol == "diamond":
        polygon([(0, -1.2), (1.2, 0), (0, 1.2), (-1.2, 0)])
    elif symbol == "triangle-up":
        polygon([(0, -1.25), (1.15, 0.85), (-1.15, 0.85)])
    elif symbol == "cross":
        polygon([(-0.4, -1.1), (0.4, -1.1), (0.4, -0.4), (1.1, -0.4), (1.1, 0.4), (0.4, 0.4),
                 (0.4, 1.1), (-0.4, 1.1), (-0.4, 0.4), (-1.1, 0.4), (-1.1, -0.4), (-0.4, -0.4)])  # fmt: skip
    elif symbol == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.35, 0.55)
        polygon(list(zip(radii * np.cos(angles), -radii * np.sin(angles), strict=True)))
    elif symbol == "hexagon":
        angles = np.arange(6) * np.pi / 3
        polygon(list(zip(1.1 * np.cos(angles), 1.1 * np.sin(angles), strict=True)))
    else:  # circle
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def step_frame(
    view: GraphView,
    step: int,
    min_confidence: float = 0.0,
    *,
    size: tuple[int, int] = SIZE,
    seed: int = 0,
) -> Image.Image:
    """One stepper position as an RGB image: graph, pseudocode, the step's sentence.

    Parameters
    ----------
    view : GraphView
        The Graph page's view (its node sample, edges, positions and Algorithm 1 trace).
    step : int
        0 (nothing picked) to ``len(view.result.steps)``.
    min_confidence : float
        The confidence gate, named in the pseudocode when above 0.
    """
    sv = step_view(view.result, view.nodes, step)  # ValueError for a step out of range
    width, height = size
    image = Image.new("RGB", size, "white")
    overlay = Image.new("RGBA", size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)

    # The graph: the left 56 % below a title line, positions scaled to fit, aspect kept.
    box = (16, 56, int(width * 0.56), height - 96)
    xy = np.asarray(view.xy, dtype=float).reshape(-1, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    scale = min(box[2] - box[0], box[3] - box[1]) / span
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    px = (xy - (lo + hi) / 2) * scale * np.array([1, -1]) + centre  # y grows upwards

    pos, _ = limit_pairs(edges_within(view.pos_pairs, sv.live), MAX_POS_EDGES, seed)
    neg, _ = limit_pairs(edges_within(view.neg_pairs, sv.live), MAX_NEG_EDGES, seed + 1)
    for pairs, color, alpha in ((neg, NEGATIVE_COLOR, 0.08), (pos, POSITIVE_COLOR, 0.3)):
        fill = _rgba(color, alpha)
        for a, b in pairs:
            draw.line([tuple(px[a]), tuple(px[b])], fill=fill, width=1)
    if sv.anchor is not None and len(view.pos_pairs):
        mine = view.pos_pairs[(view.pos_pairs == sv.anchor).any(axis=1)]
        for a, b in limit_pairs(mine, MAX_POS_EDGES, seed)[0]:
            draw.line([tuple(px[a]), tuple(px[b])], fill=_rgba("#146b14", 0.8), width=2)

    def dot(i: int, group: int, alpha: float, r: float) -> None:
        # Past the palette a colour comes back with another shape, as in the plotly figure.
        color = category_color(group) if group >= 0 else UNASSIGNED_COLOR
        marker(draw, px[i], r, category_symbol(group), _rgba(color, alpha))

    groups = sv.groups
    for i in np.flatnonzero(sv.faded & ~sv.removing):  # taken out earlier
        dot(i, groups[i], 0.35 if groups[i] >= 0 else 0.15, 3)
    for i in np.flatnonzero(~sv.faded & ~sv.removing):
        dot(i, groups[i], 0.95, 4)
    for i in np.flatnonzero(sv.removing):  # removed at this step: a cross
        x, y = px[i]
        for d in ((-4, -4, 4, 4), (-4, 4, 4, -4)):
            draw.line([x + d[0], y + d[1], x + d[2], y + d[3]], fill=_rgba("#555555", 0.7), width=2)
    if sv.anchor is not None:
        x, y = px[sv.anchor]
        draw.ellipse([x - 13, y - 13, x + 13, y + 13], outline=(0, 0, 0, 255), width=3)
    image.paste(overlay, (0, 0), overlay)
    draw = ImageDraw.Draw(image)

    n_steps = len(view.result.steps)
    r = view.result
    title = f"Algorithm 1, step {step} of {n_steps}   (t_pos={r.t_pos}, t_neg={r.t_neg})"
    _text(draw, (16, 14), title, 26)
    legend = f"{len(view.nodes):,} of {len(view.membership):,} nodes drawn"
    _text(draw, (16, height - 90), legend, 15, fill="#666666")

    # The pseudocode, the step's lines on a yellow band.
    code = algorithm1_lines(r, step, min_confidence)
    left, y, line_h = int(width * 0.58), 60, 22
    font, _ = _font(15, True)
    chars = max(20, int((width - 16 - left) / font.getlength("M")))
    for number, line in enumerate(code.lines, start=1):
        indent = " " * (4 + len(line) - len(line.lstrip()))
        parts = textwrap.wrap(f"{number:>2} {line}", chars, subsequent_indent=indent)
        if number in code.active:
            band = [left - 6, y - 2, width - 10, y + line_h * len(parts) - 3]
            draw.rectangle(band, fill="#fff3b0")
        for part in parts:
            _text(draw, (left, y), part, 15, mono=True)
            y += line_h
    y += 12
    for note in (f"line {n}: {note}" for n, note in enumerate(code.notes, start=1) if note):
        for part in textwrap.wrap(note, chars):
            _text(draw, (left, y), part, 15, fill="#4a5560")
            y += 20

    # The step's sentence, wrapped under the graph and the code.
    y = height - 68
    for part in textwrap.wrap(sv.text, 150)[:3]:
        _text(draw, (16, y), part, 16)
        y += 21
    return image


def frame_steps(view: GraphView) -> range:
    """The stepper positions that become frames: 0 .. number of picks (capped)."""
    return range(min(len(view.result.steps), MAX_FRAMES - 1) + 1)


def frames_zip(view: GraphView, min_confidence: float = 0.0) -> bytes:
    """Every stepper position as ``step-00.png``, ``step-01.png``... in one zip."""
    out = io.BytesIO()
    steps = frame_steps(view)
    digits = len(str(steps[-1]))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed
        for step in steps:
            png = io.BytesIO()
            step_frame(view, step, min_confidence).save(png, format="PNG")
            archive.writestr(f"step-{step:0{max(digits, 2)}d}.png", png.getvalue())
    return out.getvalue()


def frames_gif(view: GraphView, min_confidence: float = 0.0, seconds: float = 1.5) -> bytes:
    """Every stepper position as one looping animated GIF, ``seconds`` per frame."""
    if not seconds > 0:
        raise ValueError(f"seconds per frame must be > 0, got {seconds!r}")
    frames = [
        step_frame(view, step, min_confidence).quantize(colors=128, dither=Image.Dither.NONE)
        for step in frame_steps(view)
    ]
    out = io.BytesIO()
    durations = [int(seconds * 1000)] * len(frames)
    durations[-1] *= 2  # linger on the result before the loop starts again
    frames[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return out.getvalue()

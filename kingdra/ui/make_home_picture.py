"""Make the Home page's picture: ``python -m kingdra.ui.make_home_picture``.

One step of Algorithm 1 as the stepper's slide frame (:func:`kingdra.ui.frames.step_frame`:
the strong-edge graph, the pseudocode with the step's lines lit, the step in words), drawn
from the Lessons page's stored votes of a 10-member digits run (``assets/lessons/``), so
it shows the method, not the app's own screen, and needs no training. Home shows the PNG
without importing torch.

Writes ``assets/home.png``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

ASSET = Path(__file__).resolve().parents[2] / "assets" / "home.png"
STEP = 3  # three mini-clusters picked: the anchor, its group and the removed nodes show


def make(out: Path = ASSET, step: int = STEP) -> Path:
    """Draw the frame and save it as a PNG at `out`."""
    from kingdra.ui.frames import step_frame
    from kingdra.ui.layout import agreement_layout
    from kingdra.ui.lessons_view import lesson_state, load_lesson_data

    data = load_lesson_data()
    values = {"iteration": 0, "members": data.n_members, "t_pos": 10, "t_neg": 10, "gate": 0.0}
    xy = agreement_layout(data.member_labels[0], data.k)
    view = lesson_state(data, values, xy, sample_size=600).view
    out.parent.mkdir(parents=True, exist_ok=True)
    step_frame(view, min(step, len(view.result.steps))).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSET, help=f"default {ASSET}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger(__name__).info("wrote %s", make(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

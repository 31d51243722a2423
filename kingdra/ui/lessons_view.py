"""The Lessons page's work: ready scenarios on prepared ensemble votes, no training.

Each :class:`Lesson` is a short text, the control to try, what to look for and the settings
it starts from. They all replay Algorithm 1 (:func:`kingdra.ui.graph_view.build_graph_view`)
on one prepared run on scikit-learn's digits: the votes and confidences of 10 members after
the base ensemble and after each of 5 Kingdra iterations, in ``assets/lessons/digits.npz``
(made by ``python -m kingdra.ui.make_lessons``). Plain Python, no Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kingdra.metrics import cluster_accuracy
from kingdra.ui.graph_view import GraphView, build_graph_view, run_algorithm

ASSET = Path(__file__).resolve().parents[2] / "assets" / "lessons" / "digits.npz"
MAKE = "python -m kingdra.ui.make_lessons"
CONTROLS = ("t_pos", "t_neg", "members", "iteration", "gate")


@dataclass(frozen=True)
class Lesson:
    """One ready scenario: what it shows, the control to move and where it starts."""

    key: str
    title: str
    text: str  # the idea, two or three sentences
    try_this: str  # the control to move
    look_for: str  # what changes
    control: str  # one of CONTROLS: drawn first, the others sit in an expander
    start: dict[str, Any] = field(default_factory=dict)  # values that differ from DEFAULTS
    shared_mistakes: bool = False  # show the points every member gets wrong together


#: Where every lesson starts unless it says otherwise: the run's own settings.
DEFAULTS: dict[str, Any] = {"t_pos": 10, "t_neg": 10, "members": 10, "iteration": 0, "gate": 0.9}

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "t_pos",
        "t_pos too low: impure mini-clusters",
        "A strong positive edge joins two points when at least t_pos of the 10 members put "
        "them in the same cluster. Each mini-cluster is an anchor and its strong positive "
        "neighbours, so t_pos decides how sure the ensemble must be before two points share a "
        "pseudo-label.",
        "Lower **t_pos** from 10 to 4, then to 2.",
        "Coverage grows, but precision falls (about 99.6 % at 10, 72 % at 2) and mini-clusters "
        "mix digits: see purity in the table and the colours with *colour by true class*.",
        "t_pos",
    ),
    Lesson(
        "t_neg",
        "t_neg: too few mini-clusters, or one digit twice",
        "After each pick, every node without a strong negative edge to the anchor (fewer than "
        "t_neg members disagreeing) leaves the graph. t_neg is how different the next "
        "mini-cluster must be from the ones already taken.",
        "Start at **t_neg** = 10, then try 9, then 1.",
        "At 10 (every member must disagree) one shared doubt removes a whole digit: 8 of 10 "
        "mini-clusters. At 1 almost nothing is removed: 10 mini-clusters, but two of them are "
        "the same digit and one digit has none (*digits covered*).",
        "t_neg",
        {"t_neg": 10},
    ),
    Lesson(
        "members",
        "2 members against 10",
        "The graph is only as good as the disagreement it can see. With 2 members, two points "
        "that both members put together are 'sure'; with 10, all 10 independently trained "
        "networks must agree. t_pos and t_neg follow m, as in the presets.",
        "Move **members** from 10 down to 2.",
        "With 2 members the mini-clusters are bigger (more coverage) but less pure: precision "
        "drops by several points and some mini-clusters mix two digits.",
        "members",
    ),
    Lesson(
        "shared",
        "A mistake every member shares",
        "t_pos = 10 asks all members to agree, yet a few points in the mini-clusters are the "
        "wrong digit: every member made the same mistake, so no threshold can see it. Only "
        "members that fail differently (other seeds, other networks) can.",
        "Keep **t_pos** at 10 and look at the shared mistakes below; move t_pos up and down.",
        "The wrong points stay at every t_pos: the graph has no edge that would reveal them. "
        "They are what the pseudo-labels teach wrongly.",
        "t_pos",
        shared_mistakes=True,
    ),
    Lesson(
        "iterations",
        "Pseudo-labels lift the members, iteration 0 to 5",
        "Each iteration trains every member on its unlabelled loss plus the mini-clusters as "
        "pseudo-labels, then rebuilds the graph from the new votes (Algorithm 2). The members "
        "learn from the points they all agree on and start agreeing on more.",
        "Move **iteration** from 0 to 5.",
        "The members' accuracy rises (the two weakest by about 11 points) and the "
        "mini-clusters cover more points at the same precision; the table under the graph "
        "lists every iteration.",
        "iteration",
    ),
    Lesson(
        "gate",
        "The confidence gate on anchors",
        "An anchor must have a max-probability above the gate in every member (the authors "
        "used 0.9). The gate keeps unsure points from seeding a mini-cluster; when no "
        "remaining node passes it, Algorithm 1 stops early.",
        "Move the **confidence gate** from 0.90 to 0.",
        "At 0.90 only 8 of 10 mini-clusters are found; at 0 a ninth appears (the tenth needs "
        "t_neg below 10: see the t_neg lesson). Precision barely moves here: the gate matters "
        "most for soft, unsure members.",
        "gate",
    ),
)
LESSON_KEYS = tuple(lesson.key for lesson in LESSONS)


def lesson(key: str) -> Lesson:
    """The lesson named ``key`` (``ValueError`` naming the known keys otherwise)."""
    for item in LESSONS:
        if item.key == key:
            return item
    raise ValueError(f"unknown lesson {key!r}; use one of {', '.join(LESSON_KEYS)}")


def start_values(item: Lesson) -> dict[str, Any]:
    """The control values a lesson opens with."""
    return {**DEFAULTS, **item.start}


@dataclass
class LessonData:
    """A prepared run: T = iterations + 1 snapshots of m members' votes on n points."""

    member_labels: np.ndarray  # (T, n, m) each member's vote
    confidence: np.ndarray  # (T, n, m) each member's max probability
    final_member_labels: np.ndarray  # (T, n, m) votes as the run's aligned final clusters
    labels: np.ndarray  # (T, n) the ensemble's final clusters
    y: np.ndarray  # (n,) true classes, for evaluation only
    meta: dict[str, Any]

    @property
    def n_iterations(self) -> int:
        return self.member_labels.shape[0] - 1

    @property
    def n_members(self) -> int:
        return self.member_labels.shape[2]

    @property
    def k(self) -> int:
        return int(self.meta.get("config", {}).get("n_clusters", int(self.y.max()) + 1))


def load_lesson_data(path: str | Path = ASSET) -> LessonData:
    """Read a lessons file written by :mod:`kingdra.ui.make_lessons`.

    Raises
    ------
    ValueError
        When the file is missing, unreadable or its arrays do not fit together; the message
        says how to make it again.
    """
    path = Path(path)
    again = f"make it again with `{MAKE}`"
    if not path.is_file():
        raise ValueError(f"lessons file {path} is missing; {again}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"lessons file {path} is not readable ({err}); {again}") from None
    names = ("member_labels", "confidence", "final_member_labels", "labels", "y")
    missing = [name for name in names if name not in arrays]
    if missing:
        raise ValueError(f"lessons file {path} lacks {', '.join(missing)}; {again}")
    votes = arrays["member_labels"]
    shape = votes.shape
    if (
        votes.ndim != 3
        or arrays["confidence"].shape != shape
        or arrays["final_member_labels"].shape != shape
        or arrays["labels"].shape != shape[:2]
        or arrays["y"].shape != shape[1:2]
    ):
        raise ValueError(f"lessons file {path} has arrays of mismatched shapes; {again}")
    return LessonData(
        votes.astype(np.int64),
        arrays["confidence"].astype(np.float32),
        arrays["final_member_labels"].astype(np.int64),
        arrays["labels"].astype(np.int64),
        arrays["y"].astype(np.int64),
        meta,
    )


def check_controls(data: LessonData, values: dict[str, Any]) -> dict[str, Any]:
    """The control values as plain numbers, checked against the prepared run.

    Raises ``ValueError`` naming the bad value and its allowed range.
    """
    out = {}
    members = values.get("members")
    if not _is_int(members) or not 2 <= members <= data.n_members:
        raise ValueError(f"members must be an integer in 2..{data.n_members}, got {members!r}")
    bounds = {"t_pos": members, "t_neg": members, "iteration": data.n_iterations}
    for name, high in bounds.items():
        low = 0 if name == "iteration" else 1
        value = values.get(name)
        if not _is_int(value) or not low <= value <= high:
            raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
        out[name] = int(value)
    gate = values.get("gate")
    if not isinstance(gate, (int, float)) or isinstance(gate, bool) or not 0 <= gate < 1:
        raise ValueError(f"the confidence gate must be in [0, 1), got {gate!r}")
    out.update(members=int(members), gate=float(gate))
    return out


@dataclass
class LessonState:
    """What a lesson shows for one setting of its controls."""

    view: GraphView  # the strong-edge graph and Algorithm 1's result
    digits_covered: int  # distinct majority classes among the mini-clusters
    duplicated: list[int]  # classes that are the majority of two or more mini-clusters
    member_acc: list[float]  # ACC of each member used, at this iteration
    ensemble_acc: float  # the run's final clusters at this iteration
    shared: np.ndarray  # points in a mini-cluster whose digit differs from its majority


def votes(data: LessonData, iteration: int, members: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, members) votes and confidences of the first ``members`` members at ``iteration``."""
    return (
        data.member_labels[iteration][:, :members],
        data.confidence[iteration][:, :members],
    )


def lesson_state(
    data: LessonData,
    values: dict[str, Any],
    xy: np.ndarray,
    *,
    sample_size: int = 800,
    color_by: str = "mini-cluster",
) -> LessonState:
    """Algorithm 1 on the prepared votes for these control values, with the lesson's figures.

    ``xy``: (n, 2) positions of every point (:func:`kingdra.ui.layout.agreement_layout`).
    """
    v = check_controls(data, values)
    labels, confidence = votes(data, v["iteration"], v["members"])
    view = build_graph_view(
        labels,
        confidence,
        xy,
        t_pos=v["t_pos"],
        t_neg=v["t_neg"],
        k=data.k,
        min_confidence=v["gate"],
        sample_size=sample_size,
        y=data.y,
        color_by=color_by,
    )
    majority = [m for m in view.summary.majority if m is not None]
    counts = np.bincount(np.asarray(majority, dtype=np.int64), minlength=data.k)
    return LessonState(
        view,
        int((counts > 0).sum()),
        [int(c) for c in np.flatnonzero(counts > 1)],
        member_accuracies(data, v["iteration"], v["members"]),
        float(cluster_accuracy(data.y, data.labels[v["iteration"]])),
        shared_mistakes(view.result.clusters, data.y),
    )


def member_accuracies(data: LessonData, iteration: int, members: int) -> list[float]:
    """ACC of each of the first ``members`` members (as final clusters) at ``iteration``."""
    final = data.final_member_labels[iteration]
    return [float(cluster_accuracy(data.y, final[:, j])) for j in range(members)]


def shared_mistakes(clusters, y: np.ndarray) -> np.ndarray:
    """Points of a mini-cluster whose true class is not that mini-cluster's majority.

    With t_pos = m every member voted them together with the anchor: a mistake they share.
    """
    wrong = [
        np.asarray(c)[y[np.asarray(c)] != np.bincount(y[np.asarray(c)]).argmax()]
        for c in clusters
        if len(c)
    ]
    return np.sort(np.concatenate(wrong)) if wrong else np.zeros(0, dtype=np.int64)


def iteration_rows(data: LessonData, values: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per prepared iteration at these thresholds: mini-clusters, coverage, ACC."""
    v = check_controls(data, values)
    rows = []
    for it in range(data.n_iterations + 1):
        labels, confidence = votes(data, it, v["members"])
        result = run_algorithm(labels, confidence, v["t_pos"], v["t_neg"], data.k, v["gate"])
        covered = np.zeros(len(data.y), bool)
        for c in result.clusters:
            covered[np.asarray(c)] = True
        accs = member_accuracies(data, it, v["members"])
        rows.append(
            {
                "iteration": it,
                "mini-clusters": len(result.clusters),
                "coverage": round(float(covered.mean()), 3),
                "mean member ACC": round(float(np.mean(accs)), 3),
                "weakest member ACC": round(float(np.min(accs)), 3),
                "ensemble ACC": round(float(cluster_accuracy(data.y, data.labels[it])), 3),
            }
        )
    return rows


def member_acc_figure(before: list[float], now: list[float], iteration: int):
    """Bars of each member's ACC at iteration 0 and at ``iteration``."""
    import plotly.graph_objects as go

    members = [f"member {j}" for j in range(len(now))]
    fig = go.Figure()
    fig.add_bar(x=members, y=before, name="iteration 0", marker_color="#b0b0b0")
    fig.add_bar(x=members, y=now, name=f"iteration {iteration}", marker_color="#1f77b4")
    low = min(min(before), min(now))
    fig.update_layout(
        barmode="group",
        height=300,
        yaxis={"title": "ACC", "range": [max(0.0, low - 0.05), 1.0]},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="each member's accuracy against the true digits",
    )
    return fig


def run_description(data: LessonData) -> str:
    """One line on where the prepared votes come from."""
    meta = data.meta
    cfg = meta.get("config", {})
    return (
        f"Prepared run: {meta.get('dataset', '?')}, {len(data.y):,} points, "
        f"{data.n_members} members ({cfg.get('base', '?')}), k = {data.k}, "
        f"{data.n_iterations} iterations; made by `{meta.get('command', MAKE)}` "
        f"({meta.get('seconds', '?')} s on {meta.get('machine', '?')}, commit "
        f"{meta.get('commit', '?')})."
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

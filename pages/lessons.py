"""Lessons: ready scenarios on prepared ensemble votes, each with a control to try. No training."""

import pandas as pd
import streamlit as st

from kingdra.ui.lessons_view import (
    ASSET,
    CONTROLS,
    LESSON_KEYS,
    check_controls,
    iteration_rows,
    lesson,
    lesson_state,
    load_lesson_data,
    member_acc_figure,
    member_accuracies,
    run_description,
    start_values,
)

LABELS = {
    "t_pos": "t_pos (members agreeing)",
    "t_neg": "t_neg (members disagreeing)",
    "members": "members (ensemble size m)",
    "iteration": "iteration",
    "gate": "confidence gate",
}


@st.cache_data(show_spinner="Loading the prepared votes…", max_entries=2)
def prepared(path: str, mtime: float):
    """The lessons file (cached across sessions: data only, never a run)."""
    return load_lesson_data(path)


@st.cache_data(show_spinner=False, max_entries=16)
def positions(path: str, mtime: float, iteration: int, members: int):
    """Node positions for one iteration's votes (the agreement layout, instant)."""
    from kingdra.ui.layout import agreement_layout

    data = prepared(path, mtime)
    return agreement_layout(data.member_labels[iteration][:, :members], data.k)


@st.cache_data(show_spinner=False, max_entries=64)
def iterations_table(path: str, mtime: float, values: tuple):
    return pd.DataFrame(iteration_rows(prepared(path, mtime), dict(values)))


def open_lesson(key: str) -> None:
    """Put the lesson's starting values into the controls (before they are drawn)."""
    for name, value in start_values(lesson(key)).items():
        st.session_state[f"lesson_{name}"] = value
    st.session_state["_lesson_open"] = key


def follow_members() -> None:
    """t_pos = t_neg = m, the presets' rule, when the ensemble size moves."""
    m = st.session_state["lesson_members"]
    st.session_state["lesson_t_pos"] = m
    st.session_state["lesson_t_neg"] = m


def control(container, name: str, data) -> None:
    key = f"lesson_{name}"
    if name == "gate":
        container.slider(LABELS[name], 0.0, 0.99, step=0.01, key=key)
        return
    high = {"iteration": data.n_iterations, "members": data.n_members}.get(
        name, st.session_state["lesson_members"]
    )
    low = {"iteration": 0, "members": 2}.get(name, 1)
    on_change = follow_members if name == "members" else None
    container.slider(LABELS[name], low, high, key=key, on_change=on_change)


st.title("Lessons")
st.caption(
    "Ready scenarios for a class: each opens a prepared state at once (votes of a real "
    "ensemble, stored with the app; nothing is trained) and says which control to move and "
    "what to look for."
)
path = str(ASSET)
try:
    data = prepared(path, ASSET.stat().st_mtime if ASSET.exists() else 0.0)
except ValueError as err:
    st.error(str(err))
    st.stop()
mtime = ASSET.stat().st_mtime

pick = st.selectbox(
    "Lesson",
    LESSON_KEYS,
    format_func=lambda key: f"{LESSON_KEYS.index(key) + 1}. {lesson(key).title}",
    key="lesson_pick",
)
item = lesson(pick)
if st.session_state.get("_lesson_open") != pick or any(
    f"lesson_{name}" not in st.session_state for name in CONTROLS
):
    open_lesson(pick)

st.markdown(item.text)
st.info(f"**Try:** {item.try_this}\n\n**Look for:** {item.look_for}")

top = st.columns([3, 1])
top[1].button("Reset this lesson", key="lesson_reset", on_click=open_lesson, args=(pick,))
try:  # checked before the sliders are drawn: a value out of range would crash them
    values = check_controls(data, {name: st.session_state[f"lesson_{name}"] for name in CONTROLS})
except ValueError as err:
    st.error(f"{err}. Press **Reset this lesson** to start it again.")
    st.stop()
control(top[0], item.control, data)
with st.expander("Other settings"):
    # members first: t_pos and t_neg are bounded by it
    others = [n for n in ("members", "t_pos", "t_neg", "iteration", "gate") if n != item.control]
    for column, name in zip(st.columns(len(others)), others, strict=True):
        control(column, name, data)
    color_by = st.radio(
        "colour by", ("mini-cluster", "true class"), horizontal=True, key="lesson_color"
    )

xy = positions(path, mtime, values["iteration"], values["members"])
state = lesson_state(data, values, xy, color_by=color_by)
summary = state.view.summary
found = sum(size > 0 for size in summary.sizes)

c = st.columns(5)
c[0].metric("mini-clusters", f"{found} of {data.k}")
c[1].metric(
    "digits covered",
    f"{state.digits_covered} of {data.k}",
    help="distinct true digits that are the majority of a mini-cluster",
)
c[2].metric("coverage", f"{summary.coverage:.1%}", help="points in exactly one mini-cluster")
c[3].metric("precision", "–" if summary.precision is None else f"{summary.precision:.1%}")
mean_acc = sum(state.member_acc) / len(state.member_acc)
c[4].metric("mean member ACC", f"{mean_acc:.1%}", help=f"ensemble: {state.ensemble_acc:.1%}")
if found < data.k:
    st.warning(f"Algorithm 1 found {found} of {data.k} mini-clusters at these settings.")
if state.duplicated:
    digits = ", ".join(str(d) for d in state.duplicated)
    st.warning(f"Digit {digits} is the majority of two or more mini-clusters.")

left, right = st.columns([3, 2])
left.plotly_chart(state.view.figure, key="lesson_chart")
with right:
    sizes = pd.DataFrame(
        {
            "size": summary.sizes,
            "purity": [round(p, 3) for p in summary.purity],
            "majority digit": summary.majority,
        }
    )
    st.markdown("**Mini-clusters**")
    st.dataframe(sizes, height=320, key="lesson_sizes")

if item.shared_mistakes:
    st.subheader("Mistakes every member shares")
    wrong = state.shared
    st.caption(
        f"{len(wrong)} points sit in a mini-cluster of another digit at t_pos = "
        f"{values['t_pos']} (of {values['members']} members)."
    )
    if len(wrong):
        from sklearn.datasets import load_digits

        from kingdra.ui.clusters_view import image_grid

        images = load_digits().images
        majority = {
            int(i): summary.majority[c]
            for c, members in enumerate(state.view.result.clusters)
            for i in members
        }
        st.image(image_grid(images[wrong[:30]], n_cols=10, cell=56))
        st.dataframe(
            pd.DataFrame(
                {
                    "sample": wrong,
                    "true digit": data.y[wrong],
                    "mini-cluster's digit": [majority[int(i)] for i in wrong],
                }
            ),
            hide_index=True,
            key="lesson_shared",
        )

if item.control == "iteration" or values["iteration"] > 0:
    st.subheader("Iterations")
    before = member_accuracies(data, 0, values["members"])
    st.plotly_chart(
        member_acc_figure(before, state.member_acc, values["iteration"]), key="lesson_members_acc"
    )
    table = iterations_table(path, mtime, tuple(sorted(values.items())))
    st.dataframe(table, hide_index=True, key="lesson_iterations")

st.caption(run_description(data))

"""Home: a quick start, what Kingdra does, and the compute device.

The text is drawn before anything heavy is imported (the session and the device need torch),
so it is the app's first paint.
"""

from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parents[1] / "assets"

st.title("kingdra: clustering by ensemble agreement")
st.caption(
    "Kingdra (ICLR 2020) clusters unlabelled data: an ensemble votes on every pair of points, "
    "its strongest agreements become pseudo-labels, and the networks learn from them."
)
st.subheader("Quick start")
col1, col2, col3 = st.columns(3)
with col1:
    st.markdown("**1. Data**: digits is loaded; pick another or upload your own.")
    st.page_link("pages/data.py", label="Data", icon=":material/dataset:")
with col2:
    st.markdown(
        "**2. Train** the base ensemble (`auto` takes `fast` for digits): it took 23 s, and the "
        "five iterations after it about 2 s each, on this project's shared 2-core CPU, idle. "
        "The progress bar shows the time left as measured on your machine."
    )
    st.page_link("pages/train.py", label="Train", icon=":material/model_training:")
with col3:
    st.markdown(
        "**3. Graph**: move `t_pos` / `t_neg`, step through Algorithm 1. Or open **Lessons**: "
        "ready scenarios, no training."
    )
    st.page_link("pages/graph.py", label="Graph", icon=":material/hub:")

st.subheader("How it works")
st.markdown(
    """
1. An **ensemble** of *m* networks (Ladder networks, or IMSAT networks with the `imsat`
   preset) is trained with an unsupervised clustering loss.
2. For every pair of points the members vote: a **strong positive edge** when at least
   `t_pos` members put the two in the same cluster, a **strong negative edge** when at least
   `t_neg` members separate them.
3. **Algorithm 1** greedily picks *k* small, high-precision **mini-clusters** from that graph:
   the node with the most positive edges and its positive neighbours, then drops every node
   not clearly separated from it.
4. The mini-clusters become **pseudo-labels**; every member is retrained semi-supervised, and
   the loop repeats — the mini-clusters grow and the clusters improve.
"""
)

picture = ASSETS / "home.png"  # python -m kingdra.ui.make_home_picture
if picture.exists():
    st.image(
        str(picture),
        caption="Algorithm 1, step 3, on the votes of 10 members trained on digits: the "
        "anchor (circled) and its strong positive neighbours form mini-cluster 2 (purple); "
        "nodes without a strong negative edge to it leave the graph (crosses). Green: strong "
        "positive edges; red: strong negative edges.",
    )

from kingdra.ui.widgets import device_options, get_session  # noqa: E402 - after the text

session = get_session()
options, description = device_options()
st.caption(f"Compute device: **{description}** (available: {', '.join(options[1:])}).")
if session.dataset is not None:
    st.caption(f"Current dataset: {session.dataset.description}")

"""kingdra app: router. Each page is a file in ``pages/``; the sidebar shows on every page.

Run with ``streamlit run app.py``; it opens with the digits dataset loaded.

Heavy modules (torch, the engine, plotly, umap) load when first needed: this file imports only
Streamlit, the home page draws its text before anything heavy, and the session and sidebar
(which need torch) come after the page. `kingdra.lazy` then warms the rest in the background.
"""

import streamlit as st

from kingdra.lazy import warm_in_background

st.set_page_config(page_title="kingdra", page_icon=":material/hub:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/graph.py", title="Graph", icon=":material/hub:"),
    st.Page("pages/clusters.py", title="Clusters", icon=":material/grid_view:"),
    st.Page("pages/history.py", title="History", icon=":material/monitoring:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
]

page = st.navigation(PAGES)
try:
    page.run()
finally:
    # Drawn after the page so it shows what the page just did (e.g. training started);
    # also after st.stop() on pages that have nothing to show yet. Importing the widgets
    # imports torch: after the page, so the first paint never waits for it.
    from kingdra.ui.widgets import get_session, sidebar

    sidebar(get_session())
    warm_in_background()

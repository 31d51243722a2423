"""Support for the Streamlit app, one module per view plus the session and the runner.

``graph_view``, ``clusters_view``, ``history_view`` and ``train_view`` compute what their page
draws (plain Python, no Streamlit, tested directly); ``layout`` places graph nodes; ``session``
and ``runner`` hold a browser session's run and its background job; ``widgets`` holds the few
Streamlit helpers shared by the pages.
"""

"""Support for the Streamlit app, split by view, plus the session and the runner.

Each page's work is here, in plain Python without Streamlit and tested directly: ``train_view``
(the Train form, progress and run texts), ``graph_view`` and ``graph_panel`` (the Graph page's
figure, and its words and downloads), ``clusters_view`` and ``clusters_panel`` (the Clusters
page's grids and CSVs, its mini-clusters, words and downloads), ``curation_view`` (edits of the
mini-clusters), ``history_view``, ``why_view``, ``pseudocode`` and ``frames`` (Algorithm 1's
stepper), ``lessons_view``. ``snapshot_graph`` caches one snapshot's Algorithm 1, positions
(``layout``) and sweep for the graph pages; ``overclustering`` says whether a run
over-clusters. ``session`` and ``runner`` hold a browser session's run, its background job and
the previews published while the base ensemble trains; ``widgets`` holds the few Streamlit
helpers shared by the pages.
"""

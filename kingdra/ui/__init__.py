"""Support for the Streamlit app: session state, the background training runner, views.

``views`` and ``runner`` are plain Python (no Streamlit import) and tested directly;
``widgets`` holds the few Streamlit helpers shared by the pages.
"""

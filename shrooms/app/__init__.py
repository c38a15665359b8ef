"""The Streamlit app's glue (cached loaders, shared widgets). Imported only by `app.py` and `pages/`:
`import shrooms` never imports Streamlit."""

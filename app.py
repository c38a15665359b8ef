"""shrooms, the Streamlit app: `streamlit run app.py`. This file only routes; each page is in app_pages/
(not `pages/`: Streamlit would then also serve each page file on its own, outside this router, whenever a
deep link is a fresh server's first request).
Every page runs inside one error boundary (an error is one line, never a traceback), and queued
precomputes continue after the page is drawn, one tagger per run."""

import streamlit as st

from shrooms.app import session

st.set_page_config(page_title="shrooms", page_icon="🍄", layout="wide")
page = st.navigation([
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("app_pages/place.py", title="Place your track", icon=":material/add_location:", url_path="place"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("app_pages/study.py", title="Study new music", icon=":material/science:", url_path="study"),
    st.Page("app_pages/listen.py", title="Listen", icon=":material/headphones:", url_path="listen"),
])
session.run_page(page.run)
session.run_page(session.continue_precompute)

"""shrooms, the Streamlit app: `streamlit run app.py`. This file only routes; each page is in pages/."""

import streamlit as st

st.set_page_config(page_title="shrooms", page_icon="🍄", layout="wide")
st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("pages/place.py", title="Place your track", icon=":material/add_location:", url_path="place"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
]).run()

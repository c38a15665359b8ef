"""Study: how do the taggers place music the collection does not contain? Point at a folder whose
sub-folders are groups (say, a genre the collection lacks): each group's novelty, how much it keeps to
itself, the labels it lands among, and every tagger's map with the new tracks placed (`shrooms.study`)."""

import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.errors import ShroomsError
from shrooms.taggers import TAGGERS

source, coll, version, available = session.open_page("Study music the collection does not contain", need=1)

folder = st.text_input("Folder of new music (one sub-folder per group)", key="study_folder",
                       help="each sub-folder is a group of at least 2 tracks; files directly inside are ignored")
if st.button("Run the study", key="study_run", disabled=not folder):
    try:
        st.session_state["study_on"] = (session.allowed_folder(folder), tuple(available))
    except ShroomsError as exc:
        st.session_state.pop("study_on", None)
        st.error(str(exc).splitlines()[0])
if "study_on" not in st.session_state:
    st.caption(f"The new tracks are tagged by {', '.join(TAGGERS[k].name for k in available)} (cached) and "
               f"placed on {coll.name}'s maps, without changing them.")
    session.stop_page()

where, keys = st.session_state["study_on"]
method = session.pick_projection("study_method", "Placed on", help="the map the new tracks are placed on, one "
                                 "by one; the joint map is t-SNE's")
try:
    table, figures = session.study(source, where, keys, version, method)
except ShroomsError as exc:  # e.g. no sub-folders, or nothing readable: one line, and the box stays usable
    st.session_state.pop("study_on", None)
    st.error(str(exc).splitlines()[0])
    session.stop_page()
st.caption(f"{where} on {coll.name}. Novelty: the median group track is further from the collection than this "
           "% of its own tracks (a collection track: about 50). Own neighbour: the fraction of the group's tracks "
           "whose nearest track is in the group, in the tagger's space, on the joint map and on the collection's "
           "map with each track placed on it.")
st.dataframe(table, width="stretch", hide_index=True)
view = st.radio("Map", ["joint", "placed"], horizontal=True, key="study_view",
                format_func={"joint": "Joint map (collection and new music mapped together, t-SNE)",
                             "placed": f"Placed only (the collection's {views.PROJECTION_NAMES[method]} map, unchanged)"}.get)
grid = st.columns(min(len(figures), 3))
for n, (key, views_of) in enumerate(figures.items()):
    figure = views_of[view]
    figure.update_layout(width=None, height=480, title=dict(text=figure.layout.title.text, font=dict(size=12)),
                         legend=dict(orientation="h", yanchor="top", y=-0.02), margin=dict(l=0, r=0, t=40, b=0))
    grid[n % len(grid)].plotly_chart(figure, width="stretch", key=f"study_map_{key}")

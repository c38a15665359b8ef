"""Explore: one tagger's map of the collection; click a point (or search a track) to hear it."""

import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.taggers import TAGGERS

st.title("Explore a tagger's map")
spec, coll = session.pick_collection()
version = session.fingerprint(coll)
available = session.stored_keys(coll)

c1, c2, c3, c4 = st.columns([3, 2, 2, 3])
key = c1.selectbox("Tagger", list(TAGGERS), index=list(TAGGERS).index(available[0]) if available else 0,
                   format_func=lambda k: session.tagger_label(k, available), key="explore_tagger")
if key not in available:
    st.warning(session.unavailable_reason(coll, key))
    st.stop()
dims = c2.radio("View", [2, 3], format_func=lambda d: f"{d}-D", horizontal=True, key="explore_dims")
method = c3.radio("Projection", ["tsne", "pca"], format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
                  horizontal=True, key="explore_method")
by = c4.selectbox("Colour by", views.COLOUR_BY, key="explore_colour")
tag = st.selectbox("Tag", TAGGERS[key].tags, format_func=views.short_tag, key="explore_tag") \
    if by == "tag probability" else None

frame = session.map_frame(spec, key, method, dims, version)
colour = session.colours(spec, key, method, dims, by, tag, version)
figure = views.map_figure(frame, colour, dims)
picked: list[str] = []
if dims == 2:
    event = st.plotly_chart(figure, on_select="rerun", selection_mode="points", key=f"explore_map_{key}_{method}",
                            width="stretch")
    picked = [p["customdata"] for p in event.selection.points if p.get("customdata")] if event else []
    st.caption("Click a point to hear it. Scroll to zoom, drag to pan.")
else:
    st.plotly_chart(figure, width="stretch", key=f"explore_map3d_{key}_{method}")
    st.caption("3-D is for looking around (drag to orbit); find a track below to hear it.")

search = st.selectbox("Find a track", list(frame["id"]), index=None, placeholder="type a track name…",
                      key="explore_search")
track = picked[0] if picked else search
if track:
    session.show_track(spec, coll, key, track, version)

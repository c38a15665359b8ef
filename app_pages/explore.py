"""Explore: one tagger's map of the collection; click a point (or search a track) to hear it.
The view (tagger, 2-D/3-D, projection, colouring, track) is kept in the URL."""

import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.taggers import TAGGERS

st.title("Explore a tagger's map")
spec, coll = session.pick_collection()
version = session.fingerprint(coll)
available = session.stored_keys(coll)

session.from_url("explore_tagger", "tagger", list(TAGGERS))
session.from_url("explore_dims", "view", [2, 3], parse=lambda v: int(v.rstrip("dD").rstrip("-")))
session.from_url("explore_method", "projection", ["tsne", "pca"])
session.from_url("explore_colour", "colour", list(views.COLOUR_BY))
st.session_state.setdefault("explore_tagger", available[0] if available else next(iter(TAGGERS)))

c1, c2, c3, c4 = st.columns([3, 2, 2, 3])
key = c1.selectbox("Tagger", list(TAGGERS), format_func=lambda k: session.tagger_label(k, available),
                   key="explore_tagger")
dims = c2.radio("View", [2, 3], format_func=lambda d: f"{d}-D", horizontal=True, key="explore_dims")
method = c3.radio("Projection", ["tsne", "pca"], format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
                  horizontal=True, key="explore_method")
by = c4.selectbox("Colour by", views.COLOUR_BY, key="explore_colour")
session.to_url(tagger=key, view=f"{dims}d", projection=method, colour=by)
if key not in available:
    session.to_url(track=None)
    if session.running_tagger(spec):
        st.info(f"{TAGGERS[key].name}'s embeddings are being computed (progress in the sidebar): the map "
                "appears as soon as they are done.")
    else:
        st.warning(session.unavailable_reason(coll, key))
    st.stop()
if by == "tag probability":
    session.from_url("explore_tag", "tag", list(TAGGERS[key].tags))
tag = st.selectbox("Tag", TAGGERS[key].tags, format_func=views.short_tag, key="explore_tag") \
    if by == "tag probability" else None
session.to_url(tag=tag)

frame = session.map_frame(spec, key, method, dims, version)
colour = session.colours(spec, key, method, dims, by, tag, version)
figure = views.map_figure(frame, colour, dims)
chart = f"explore_map_{key}_{method}"


def clicked() -> None:
    """A clicked point becomes the track shown below (and in the URL)."""
    points = st.session_state[chart]["selection"]["points"]
    ids = [p["customdata"] for p in points if p.get("customdata")]
    if ids:
        st.session_state["explore_search"] = ids[0]


if dims == 2:
    st.plotly_chart(figure, on_select=clicked, selection_mode="points", key=chart, width="stretch")
    st.caption("Click a point to hear it. Scroll to zoom, drag to pan.")
else:
    st.plotly_chart(figure, width="stretch", key=f"explore_map3d_{key}_{method}")
    st.caption("3-D is for looking around (drag to orbit); find a track below to hear it.")

session.from_url("explore_search", "track", list(frame["id"]))
if st.session_state.get("explore_search") not in set(frame["id"]):
    st.session_state.pop("explore_search", None)  # e.g. a track this tagger has not stored
track = st.selectbox("Find a track", list(frame["id"]), index=None, placeholder="type a track name…",
                     key="explore_search")
session.to_url(track=track)
if track:
    session.show_track(spec, coll, key, track, version)

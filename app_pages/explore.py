"""Explore: one tagger's map of the collection, of its embeddings or of its taggram, or two tags as the
axes; click a point (or search a track) to hear it and see its trajectory (its chunks in time order); box
or lasso a group to download it. The view (tagger, 2-D/3-D, projection, space, tags, colouring, track) is
kept in the URL."""

import streamlit as st

from shrooms import views
from shrooms.app import session
from shrooms.taggers import TAGGERS

PROJECTIONS = {**views.PROJECTION_NAMES, "tags": "Tag axes"}  # t-SNE, UMAP, PCA, two tags as the axes
SELECTED = "explore_selected"
source, coll, version, available = session.open_page("Explore a tagger's map")

session.from_url("explore_tagger", "tagger", list(TAGGERS))
session.from_url("explore_dims", "view", [2, 3], parse=lambda v: int(v.rstrip("dD").rstrip("-")))
session.from_url("explore_method", "projection", list(PROJECTIONS))
session.from_url("explore_space", "space", list(views.SPACE_NAMES))
session.from_url("explore_colour", "colour", list(views.COLOUR_BY))
session.from_url("explore_show", "show", ["tracks", "segments"])
st.session_state.setdefault("explore_tagger", available[0] if available else next(iter(TAGGERS)))

c1, c2, c3, c4, c5 = st.columns([3, 2, 3, 3, 3])
key = c1.selectbox("Tagger", list(TAGGERS), format_func=lambda k: session.tagger_label(k, available),
                   key="explore_tagger")
method = c3.radio("Projection", list(PROJECTIONS), format_func=PROJECTIONS.get, horizontal=True,
                  key="explore_method")
dims = c2.radio("View", [2, 3], format_func=lambda d: f"{d}-D", horizontal=True, key="explore_dims",
                disabled=method == "tags")
dims = 2 if method == "tags" else dims
space = c4.radio("Space", list(views.SPACE_NAMES), horizontal=True, key="explore_space", disabled=method == "tags",
                 help="the map of the tagger's embeddings, or of its 50 tag probabilities (its taggram)")
by = c5.selectbox("Colour by", views.COLOUR_BY, key="explore_colour")
session.to_url(tagger=key, view=f"{dims}d", projection=method, space=space, colour=by)
if key not in available:
    session.to_url(track=None)
    if session.running_tagger(source):
        st.info(f"{TAGGERS[key].name}'s embeddings are being computed (progress in the sidebar): the map "
                "appears as soon as they are done.")
    else:
        st.warning(session.unavailable_reason(source, version, key))
    session.stop_page()

tags = None
if method == "tags":
    a, b = st.columns(2)
    names = list(TAGGERS[key].tags)
    session.from_url("explore_tag_x", "tag_x", names)
    session.from_url("explore_tag_y", "tag_y", names)
    st.session_state.setdefault("explore_tag_x", next((t for t in names if t.endswith("---rock")), names[0]))
    st.session_state.setdefault("explore_tag_y", next((t for t in names if t.endswith("---electronic")), names[1]))
    tags = (a.selectbox("x = P(tag)", names, format_func=views.short_tag, key="explore_tag_x"),
            b.selectbox("y = P(tag)", names, format_func=views.short_tag, key="explore_tag_y"))
session.to_url(tag_x=tags and tags[0], tag_y=tags and tags[1])
if by == "tag probability":
    session.from_url("explore_tag", "tag", list(TAGGERS[key].tags))
tag = st.selectbox("Tag", TAGGERS[key].tags, format_func=views.short_tag, key="explore_tag") \
    if by == "tag probability" else None
session.to_url(tag=tag)

several = session.chunks_per_track(source, key, version) > 1
show = st.radio("Show", ["tracks", "segments"], horizontal=True, key="explore_show",
                format_func={"tracks": "tracks", "segments": "segments (every chunk a point)"}.get) \
    if several else "tracks"
session.to_url(show=show if several else None)

frame = session.map_frame(source, key, method, dims, version, space, tags)
colour = session.colours(source, key, method, dims, by, tag, version, space, tags)
if show == "segments":
    chunks = session.segments(source, key, method, dims, version, space, tags)
    lookup = colour.set_axis(frame["id"])
    figure = views.map_figure(chunks, chunks["id"].map(lookup), dims, height=600)
else:
    figure = views.map_figure(frame, colour, dims)
if method == "tags":
    figure.update_xaxes(showticklabels=True, title=f"P({views.short_tag(tags[0])})")
    figure.update_yaxes(showticklabels=True, title=f"P({views.short_tag(tags[1])})")
chart = f"explore_map_{key}_{method}_{space}_{show}"

session.from_url("explore_search", "track", list(frame["id"]))
if st.session_state.get("explore_search") not in set(frame["id"]):
    st.session_state.pop("explore_search", None)  # e.g. a track this tagger has not stored
track = st.session_state.get("explore_search")
path = None
if track and dims == 2:
    path = session.trajectory(source, key, track, method, dims, version, space, tags)
    views.add_trajectory(figure, path, track)


def clicked() -> None:
    """One clicked point becomes the track shown below (and in the URL); a clicked trajectory point
    becomes the chunk played; a box or lasso of several tracks becomes the selection to download."""
    points = st.session_state[chart]["selection"]["points"]
    ids = [p["customdata"] for p in points if p.get("customdata")]
    chunks = [int(i.split(":")[1]) for i in ids if i.startswith("chunk:")]
    ids = list(dict.fromkeys(i for i in ids if not i.startswith(("chunk:", "upload:"))))
    if chunks and not ids:
        st.session_state["explore_chunk"] = chunks[0]
    elif len(ids) == 1 and len(points) == 1:
        st.session_state["explore_search"] = ids[0]
        st.session_state.pop("explore_chunk", None)
    st.session_state[SELECTED] = ids if len(points) > 1 else []


if dims == 2:
    st.plotly_chart(figure, on_select=clicked, selection_mode=("points", "box", "lasso"), key=chart,
                    width="stretch")
    st.caption("Click a point to hear it and draw its trajectory (its chunks in time order); box or lasso "
               "tracks (modebar) to download them. Scroll to zoom, drag to pan.")
else:
    st.plotly_chart(figure, width="stretch", key=f"explore_map3d_{key}_{method}_{space}_{show}")
    st.caption("3-D is for looking around (drag to orbit); find a track below to hear it.")

selected = st.session_state.get(SELECTED, [])
if selected:
    st.caption(f"{len(selected)} tracks selected.")
    session.export_selection(frame, selected, "explore_export")

track = st.selectbox("Find a track", list(frame["id"]), index=None, placeholder="type a track name…",
                     key="explore_search")
session.to_url(track=track)
if track:
    session.show_track(source, coll, key, track, version, path)

if coll.labels:
    st.markdown("**What each label raises**: the label × tag profile of this tagger's taggram")
    measure = st.radio("Measure", ["lift", "difference"], horizontal=True, key="explore_measure",
                       help="lift: the label's mean tag probability / the collection's; difference: their gap")
    st.plotly_chart(session.label_tags(source, key, measure, version), width="stretch", key="explore_profile")

"""Compare taggers side by side: linked selections across maps (downloadable as a playlist), how alike
they hear the collection (CKA and k-NN overlap of every pair, and the tracks a pair disagrees on most),
each tagger's hubs (hubness skewness and the tracks most often listed as neighbours), the score table
and confusion matrices."""

import streamlit as st

from shrooms import views
from shrooms.audio import text_path
from shrooms.app import session
from shrooms.taggers import TAGGERS

SELECTION = "compare_selection"
source, coll, version, available = session.open_page("Compare the taggers")
if len(available) < 2:
    st.warning("Comparing needs at least two taggers with embeddings of this collection: compute them on the "
               "Home page. Unavailable: " + "; ".join(session.unavailable_reason(source, version, k)
                                                       for k in TAGGERS if k not in available))
    session.stop_page()

if "compare_taggers" not in st.session_state:  # from a shared link, else every tagger with embeddings
    wanted = [k for k in st.query_params.get("taggers", "").split(",") if k]
    if wanted and not set(wanted) <= set(available):
        st.caption(f"The link's taggers “{', '.join(sorted(set(wanted) - set(available)))}” are not available "
                   "here: showing the others.")
    st.session_state["compare_taggers"] = [k for k in wanted if k in available] or available
chosen = st.multiselect("Taggers (2 to 7)", available, max_selections=7, format_func=lambda k: TAGGERS[k].name,
                        key="compare_taggers")
session.to_url(taggers=chosen)
method = session.pick_projection("compare_method", "Maps")
if len(chosen) < 2:
    st.info("Pick at least two taggers.")
    session.stop_page()


def remember_selection(chart: str) -> None:
    """A selection made in one map becomes the highlighted set in all of them."""
    points = st.session_state[chart]["selection"]["points"]
    st.session_state[SELECTION] = [p["customdata"] for p in points if p.get("customdata")]


selected = set(st.session_state.get(SELECTION, []))
if selected:
    note, clear = st.columns([6, 1])
    note.caption(f"{len(selected)} tracks selected: highlighted in every map.")
    if clear.button("Clear selection"):
        st.session_state[SELECTION] = []
        st.rerun()
    session.export_selection(session.map_frame(source, chosen[0], method, 2, version), list(selected),
                             "compare_export")
else:
    st.caption("Select points (click, box or lasso) in any map to highlight the same tracks in all of them.")

columns = st.columns(min(len(chosen), 3))
for n, key in enumerate(chosen):
    frame = session.map_frame(source, key, method, 2, version)
    colour = session.colours(source, key, method, 2, "label", None, version)
    figure = views.map_figure(frame, colour, 2, title=f"{TAGGERS[key].name} · {views.PROJECTION_NAMES[method]}",
                              highlight=selected, height=480)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.02))  # keep the narrow maps wide
    with columns[n % len(columns)]:
        st.plotly_chart(figure, on_select=lambda chart=f"compare_map_{key}": remember_selection(chart),
                        selection_mode=("points", "box", "lasso"), key=f"compare_map_{key}",
                        width="stretch")

st.markdown("**Do they hear the collection alike?** Linear CKA of the representations and the mean overlap "
            "of every track's 10 nearest neighbours, for every pair (1 = identical).")
session.from_url("compare_space", "space", list(views.SPACE_NAMES))
space = st.radio("Space", list(views.SPACE_NAMES), horizontal=True, key="compare_space")
session.to_url(space=space)
agree = session.agreement(source, tuple(chosen), space, version)
st.plotly_chart(views.agreement_figure(agree, chosen), width="stretch", key="compare_agreement")
pairs = {f"{TAGGERS[p['a']].name} vs {TAGGERS[p['b']].name}": p for p in agree["pairs"]}
if pairs:
    pair = pairs[st.selectbox("Tracks these two taggers disagree on most (lowest neighbour overlap)", list(pairs),
                              key="compare_pair")]
    for row in pair["disagree"]:
        left, right = st.columns([2, 3])
        left.write(f"`{row['id']}` · {row['label'] or 'unlabelled'} · overlap {row['overlap']:.2f}")
        data, mime = session.audio(next(text_path(t.path) for t in coll.tracks if t.id == row["id"]))
        right.audio(data, format=mime)

st.markdown("**Hubs**: tracks that are among almost everyone's 10 nearest neighbours crowd every neighbour "
            "list. The skewness of how often each track is listed (0: no hubs; large: a few tracks collect most "
            "places), as listed by the tagger's space and by two hubness-reduced lists, and each tagger's top hubs.")
st.dataframe(views.hubness_table(session.hubness(source, tuple(chosen), space, version)), width="stretch",
             key="compare_hubs")

if coll.labels:
    st.subheader("Scores")
    st.dataframe(views.score_table(session.scores(source, tuple(chosen), version)), width="stretch")
    st.subheader("Hungarian-matched k-means confusion")
    heat = st.columns(min(len(chosen), 3))
    for n, key in enumerate(chosen):
        heat[n % len(heat)].plotly_chart(views.confusion_figure(session.confusion(source, key, version),
                                                                TAGGERS[key].name), width="stretch",
                                         key=f"confusion_{key}")

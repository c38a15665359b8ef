"""Listen: a blind test of whose neighbours sound more alike. A seed track plays, then the nearest other
track to it under two taggers, blind (as "A" and "B") and in random order; the listener says which sounds
closer, or "same". Each vote is stored at once in one transaction (`shrooms.listening`); the summary per
pair of taggers counts every vote on this collection, from every session."""

import numpy as np
import pandas as pd
import streamlit as st

from shrooms import listening
from shrooms.audio import text_path
from shrooms.app import session
from shrooms.taggers import TAGGERS

SESSION, TRIAL, CURRENT, LAST = "listen_session", "listen_trial", "listen_current", "listen_last"

source, coll, version, available = session.open_page("Listen: whose neighbours sound more alike?")
st.caption("A seed track plays, then its nearest track under two taggers, blind and in random order. Pick "
           "the one that sounds closer to the seed. Votes are stored with the tagger pair, the tracks and a "
           "random id of this browser session: nothing else about you.")
if len(available) < 2:
    st.warning("A listening test needs two taggers with embeddings of this collection: compute them on the "
               "Home page. Unavailable: " + "; ".join(session.unavailable_reason(source, version, k)
                                                       for k in TAGGERS if k not in available))
    session.stop_page()

if SESSION not in st.session_state:
    st.session_state[SESSION] = listening.new_session()
    st.session_state[TRIAL] = 0
n = st.session_state[TRIAL]
current = st.session_state.get(CURRENT)
tracks = {t.id: t for t in coll.tracks}
if current is None or current[:2] != (coll.key, n) or (current[2] is not None and not {
        current[2].seed, current[2].track_a, current[2].track_b} <= set(tracks)):  # drawn once per trial
    rng = np.random.default_rng([int(st.session_state[SESSION], 16), n])  # seeded per session and trial
    trial = listening.pick_trial({k: session.rows(source, k, version) for k in available}, rng)
    st.session_state[CURRENT] = current = (coll.key, n, trial)
trial = current[2]  # a rerun replays what was heard


def player(track_id: str) -> None:
    data, mime = session.audio(text_path(tracks[track_id].path))
    st.audio(data, format=mime)


last = st.session_state.get(LAST)
if last and last[0] == coll.key:
    _, shown, said = last
    heard = {"a": "A closer", "b": "B closer", "same": "them the same"}[said]
    st.success(f"Your vote is stored (you heard {heard}). A was {TAGGERS[shown.tagger_a].name}'s neighbour "
               f"`{shown.track_a}`, B was {TAGGERS[shown.tagger_b].name}'s `{shown.track_b}`.")

if trial is None:
    st.info("No trial found: these taggers name the same nearest tracks (or share fewer than 3 tracks).")
    if st.button("Draw again", key=f"listen_again_{n}"):
        st.session_state[TRIAL] = n + 1
        st.rerun()
else:
    st.subheader(f"Trial {n + 1}")
    seed_col, a_col, b_col = st.columns(3)
    with seed_col:
        st.markdown("**Seed**")
        player(trial.seed)
    with a_col:
        st.markdown("**A**")
        player(trial.track_a)
    with b_col:
        st.markdown("**B**")
        player(trial.track_b)
    buttons = st.columns(4)
    choice = None
    if buttons[0].button("A is closer", key=f"listen_a_{n}", width="stretch"):
        choice = "a"
    if buttons[1].button("B is closer", key=f"listen_b_{n}", width="stretch"):
        choice = "b"
    if buttons[2].button("Same", key=f"listen_same_{n}", width="stretch"):
        choice = "same"
    skip = buttons[3].button("Skip", key=f"listen_skip_{n}", width="stretch")
    if choice is not None:
        listening.record_vote(coll, trial, choice, st.session_state[SESSION])
    if choice is not None or skip:
        st.session_state[LAST] = None if skip else (coll.key, trial, choice)
        st.session_state[TRIAL] = n + 1
        st.rerun()

st.subheader("Votes so far")
result = listening.report(coll)
if not result["votes"]:
    st.caption(f"No votes on {coll.name} yet.")
else:
    votes, sessions = result["votes"], result["sessions"]
    st.caption(f"{votes} vote{'s' * (votes > 1)} on {coll.name} from {sessions} session{'s' * (sessions > 1)}. "
               "Share: of the votes that were not “same”, how many the first tagger's neighbour won, with its "
               f"{result['confidence']:.0%} Wilson interval and the binomial test against no preference (p).")
    table = pd.DataFrame([{
        "pair": " vs ".join(TAGGERS[k].name if k in TAGGERS else k for k in (p["a"], p["b"])),
        "votes": p["votes"], "first wins": p["wins_a"], "second wins": p["wins_b"], "same": p["same"],
        "share": "–" if p["fraction_a"] is None else f"{p['fraction_a']:.2f}",
        "95% interval": "–" if p["ci_low"] is None else f"{p['ci_low']:.2f} – {p['ci_high']:.2f}",
        "p": "–" if p["p_value"] is None else f"{p['p_value']:.3f}"} for p in result["pairs"]])
    st.table(table.set_index("pair"))

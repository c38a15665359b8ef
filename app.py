"""shrooms home: what it is, and the taggers' status."""

import streamlit as st

from shrooms.taggers import TAGGERS, find_weights

st.set_page_config(page_title="shrooms", page_icon="🍄", layout="wide")
st.title("🍄 shrooms")
st.write("What on earth do music auto-taggers learn? shrooms maps songs as seven pretrained "
         "MTG-Jamendo taggers hear them, so you can fly over the maps, listen, and place your own music.")
st.dataframe([{"tagger": s.name, "key": s.key, "input (s)": round(s.seconds, 2), "embedding": s.embedding_dim,
               "weights": "available" if find_weights(s) else "weights not available"}
              for s in TAGGERS.values()], hide_index=True)

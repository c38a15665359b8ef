"""shrooms in a notebook, one cell per step (run as a script: `python examples/notebook.py FOLDER SONG`).

FOLDER holds music in label sub-folders (e.g. <FOLDER>/<genre>/<files>); SONG is any audio file.
Each step is a line or two of the public API; tests/test_examples.py runs this file on real recordings.
"""

import sys
import tempfile

import numpy as np

import shrooms

folder, song = sys.argv[1], sys.argv[2]
cache = tempfile.mkdtemp(prefix="shrooms-notebook-")  # a notebook would keep one, e.g. "~/shrooms-cache"

# 1. Tag a file: per tagger, the 50 tag probabilities and the embedding (plus per-chunk arrays)
out = shrooms.tag(song, models=["fcn", "musicnn"])
print("top tags (fcn):", ", ".join(f"{t.split('---')[-1]} {p:.2f}" for t, p in
                                   shrooms.taggers.top_tags(out["fcn"].tags, 3)))

# 2. Embed a folder (computed once into the cache, reused next time)
emb = shrooms.embed(folder, models=["fcn", "musicnn"], cache_dir=cache, progress=False)
X, y = emb.embeddings["musicnn"], emb.labels
print(f"embedded: {X.shape[0]} tracks, musicnn {X.shape[1]}-d, labels {sorted(set(y.tolist()))}")

# 3. Fit a map (a scikit-learn-style estimator over openTSNE)
tag_map = shrooms.TagMap(method="tsne", dims=2, seed=0).fit(X)
print("map:", tag_map.embedding_.shape)

# 4. Place a new song on it (openTSNE transform, no refit)
xy = tag_map.transform(out["musicnn"].embedding[None, :])
print("new song lands at:", np.round(xy[0], 2).tolist())

# 5. Score clusters against the labels (k-means matched to labels by the Hungarian algorithm)
scores = shrooms.cluster_scores(X, y, k=len(set(y)), seeds=(0, 1, 2))
print(f"Hungarian k-means accuracy: {scores['hungarian_kmeans'].mean:.3f} (chance {1 / len(set(y)):.3f})")

# 6. Do two taggers hear the collection alike? Linear CKA of their embeddings
print(f"CKA fcn vs musicnn: {shrooms.linear_cka(emb.embeddings['fcn'], emb.embeddings['musicnn']):.3f}")

"""shrooms: what do music auto-taggers learn?

The notebook API, in the style of librosa and scikit-learn::

    import shrooms
    shrooms.tag("song.mp3")                          # per tagger: tags (50,), embedding (D,), chunks
    emb = shrooms.embed("my/music", models=["fcn"])  # a folder whose sub-folders are labels, via the store
    shrooms.status("my/music", "fcn")                # ready / no weights / bad weights / not computed
    m = shrooms.TagMap(method="tsne", dims=2, seed=0).fit(emb.embeddings["fcn"])  # m.embedding_ (n, 2)
    m.transform(shrooms.tag("new.mp3", models="fcn")["fcn"].embedding[None])     # where a new song lands
    shrooms.linear_cka(emb.embeddings["fcn"], emb.embeddings["musicnn"])         # do two taggers agree?

`import shrooms` never imports Streamlit (the app's glue lives in `shrooms.app`).
"""

import lazy_loader

# Attributes load their submodule on first use (librosa's and scikit-image's way): `import shrooms` stays
# light, and a Ray worker that needs only `shrooms.audio` does not import scikit-learn and openTSNE.
__getattr__, __dir__, _ = lazy_loader.attach(__name__, submod_attrs={
    "agreement": ["linear_cka"],
    "analysis": ["cluster_scores", "hungarian_accuracy", "knn_accuracy", "matched_confusion", "probe_accuracy",
                 "tag_profiles"],
    "api": ["Embeddings", "embed", "get_map", "load_collection", "load_embeddings", "place", "report", "tag",
            "valid_audio"],
    "hubness": ["hubs", "k_occurrence"],
    "maps": ["TagMap", "segment_points", "tag_axes", "trajectory"],
    "neighbours": ["knn_overlap", "novelty_percentile"],
    "collections": ["Collection", "Track"],
    "config": ["cache_dir", "using_cache"],
    "errors": ["AudioError", "ShroomsError", "WeightsUnavailable"],
    "status": ["TaggerStatus", "status", "statuses"],
    "taggers": ["JAMENDO_TAGS", "TAGGERS", "TrackOutput", "load_tagger"],
})

__version__ = "0.3.0"

__all__ = ["AudioError", "Collection", "Embeddings", "JAMENDO_TAGS", "ShroomsError", "TAGGERS", "TagMap", "TaggerStatus",
           "Track", "TrackOutput", "WeightsUnavailable", "cache_dir", "cluster_scores", "embed", "get_map",
           "hubs", "hungarian_accuracy", "k_occurrence", "knn_accuracy", "knn_overlap", "linear_cka",
           "load_collection", "load_embeddings", "load_tagger", "matched_confusion", "novelty_percentile", "place", "probe_accuracy", "report",
           "segment_points", "status", "statuses", "tag", "tag_axes", "tag_profiles", "trajectory", "using_cache",
           "valid_audio"]

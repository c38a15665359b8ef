"""shrooms: what do music auto-taggers learn?

The notebook API, in the style of librosa and scikit-learn::

    import shrooms
    shrooms.tag("song.mp3")                          # per tagger: tags (50,), embedding (D,), chunks
    emb = shrooms.embed("my/music", models=["fcn"])  # a folder whose sub-folders are labels, via the store
    shrooms.status("my/music", "fcn")                # ready / no weights / bad weights / not computed

`import shrooms` never imports Streamlit (the app's glue lives in `shrooms.app`).
"""

from .api import Embeddings, embed, load_embeddings, tag, valid_audio
from .collections import Collection, Track, load_collection
from .config import cache_dir, using_cache
from .errors import AudioError, ShroomsError, WeightsUnavailable
from .status import TaggerStatus, status, statuses
from .taggers import JAMENDO_TAGS, TAGGERS, TrackOutput, load_tagger

__version__ = "0.2.0"

__all__ = ["AudioError", "Collection", "Embeddings", "JAMENDO_TAGS", "ShroomsError", "TAGGERS", "TaggerStatus",
           "Track", "TrackOutput", "WeightsUnavailable", "cache_dir", "embed", "load_collection",
           "load_embeddings", "load_tagger", "status", "statuses", "tag", "using_cache", "valid_audio"]

"""The seven MTG-Jamendo taggers: registry, weights and inference."""

from .inference import TAGGER_VERSION, Tagger, available_taggers, TrackOutput, default_device, load_tagger, pool
from .registry import JAMENDO_TAGS, TAGGERS, TaggerSpec, get_spec
from .weights import current_sha256, download_weights, find_weights, missing_message

__all__ = ["JAMENDO_TAGS", "TAGGERS", "TAGGER_VERSION", "Tagger", "TaggerSpec", "TrackOutput", "available_taggers", "current_sha256", "default_device",
           "download_weights", "find_weights", "get_spec", "load_tagger", "missing_message", "pool"]

"""The seven MTG-Jamendo taggers: registry, weights and inference."""

from .inference import (PRECISIONS, TAGGER_VERSION, MultiDeviceTagger, Tagger, TrackOutput, available_taggers, bf16_supported,
                        decode_workers, default_device, default_precision, devices, load_tagger, pool)
from .registry import JAMENDO_TAGS, TAGGERS, TaggerSpec, get_spec, top_tags
from .weights import current_sha256, download_weights, find_weights, missing_message

__all__ = ["JAMENDO_TAGS", "MultiDeviceTagger", "PRECISIONS", "TAGGERS", "TAGGER_VERSION", "Tagger", "TaggerSpec", "TrackOutput",
           "available_taggers", "bf16_supported", "current_sha256", "decode_workers", "default_device", "default_precision", "devices",
           "download_weights", "find_weights", "get_spec", "top_tags", "load_tagger", "missing_message", "pool"]

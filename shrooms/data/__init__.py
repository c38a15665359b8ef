"""Package data: GTZAN's fault-filtered, artist-disjoint split (see README.md here)."""

"""User-facing errors: each one prints as a single clear line, never a traceback."""


class ShroomsError(Exception):
    """Base class for errors whose message is meant for the user as it is."""


class AudioError(ShroomsError):
    """A file could not be decoded into audio samples."""


class WeightsUnavailable(ShroomsError):
    """A tagger's weights are neither on disk nor downloadable right now."""

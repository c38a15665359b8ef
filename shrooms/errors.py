"""User-facing errors: each one prints as a single clear line, never a traceback."""


class ShroomsError(ValueError):
    """Base class for errors whose message is meant for the user as it is.

    A `ValueError`, as scikit-learn's and librosa's input checks raise: callers that catch ValueError
    around an estimator or an audio function catch shrooms' one-line errors too."""


class AudioError(ShroomsError):
    """A file could not be decoded into audio samples."""


class WeightsUnavailable(ShroomsError):
    """A tagger's weights are neither on disk nor downloadable right now."""

"""What the app shows, with no Streamlit here (so it is testable alone), in two jobs:
`frames` assembles plain data from the store (map frames and colours, joint maps, trajectories, the
taggers' status, score and hubness tables, playable audio, study tables); `figures` turns plain data into
plotly figures (maps, tags, confusion, agreement, label × tag profiles, trajectories)."""

from .figures import (COLOUR_BY, PALETTE, SVG_MAX_POINTS, TRAJECTORY, UPLOAD_COLOUR, add_trajectory, agreement_figure,
                      clock, confusion_figure, label_tag_figure, map_figure, short_tag, tags_figure)
from .frames import (PLAYABLE, PROJECTION_NAMES, PROJECTIONS, SCORE_COLUMNS, SPACE_NAMES, chunk_path, chunks_per_track,
                     cluster_captions, colour_values, hubness_table, joint_frame, map_frame, mix_line, novelty_line,
                     playable, projected, score_table, segments_frame, selection_files, study_models, study_table,
                     tagger_status, track_trajectory, upload_trajectory, waiting_files)

__all__ = ["COLOUR_BY", "PALETTE", "PLAYABLE", "PROJECTIONS", "PROJECTION_NAMES", "SCORE_COLUMNS", "SPACE_NAMES",
           "SVG_MAX_POINTS", "TRAJECTORY", "UPLOAD_COLOUR", "add_trajectory", "agreement_figure", "chunk_path",
           "chunks_per_track", "clock", "cluster_captions", "colour_values", "confusion_figure", "hubness_table",
           "joint_frame", "label_tag_figure", "map_figure", "map_frame", "mix_line", "novelty_line", "playable", "projected",
           "score_table", "segments_frame", "selection_files", "short_tag", "study_models", "study_table",
           "tagger_status", "tags_figure", "track_trajectory", "upload_trajectory", "waiting_files"]

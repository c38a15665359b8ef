"""The seven MTG-Jamendo taggers of Won et al. 2020: what each is, how long its input is, which layer is
its embedding, and where its weights come from (and how to tell the released file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from torch import nn

from ..errors import ShroomsError
from .attention import CNNSA
from .crnn import CRNN
from .fcn import FCN
from .hcnn import HarmonicCNN
from .musicnn import Musicnn
from .sample import SampleCNN
from .se import SampleCNNSE

# Where the checkpoints are, in the order tried; each base + "/" + `TaggerSpec.weights_path`. The upstream
# folder (Won et al.) holds fcn, musicnn and crnn; the musical-shrooms study's repository holds all seven.
WEIGHTS_SOURCES: tuple[str, ...] = (
    "https://github.com/minzwon/sota-music-tagging-models/raw/master/models",
    "https://raw.githubusercontent.com/Adhithyan8/musical-shrooms/master/models",
)

# The MTG-Jamendo top-50 tags in output order: alphabetical, as scikit-learn's LabelBinarizer sorted them.
JAMENDO_TAGS: tuple[str, ...] = tuple(sorted(
    [f"genre---{g}" for g in (
        "alternative ambient atmospheric chillout classical dance downtempo easylistening electronic "
        "experimental folk funk hiphop house indie instrumentalpop jazz lounge metal newage orchestral "
        "pop popfolk poprock reggae rock soundtrack techno trance triphop world").split()]
    + [f"instrument---{i}" for i in (
        "acousticguitar bass computer drummachine drums electricguitar electricpiano guitar keyboard "
        "piano strings synthesizer violin voice").split()]
    + [f"mood/theme---{m}" for m in "emotional energetic film happy relaxing".split()]))


@dataclass(frozen=True)
class TaggerSpec:
    """Everything shrooms knows about one tagger before loading it."""

    key: str
    name: str
    paper: str
    input_length: int  # samples at 16 kHz
    embedding_dim: int
    embedding_layer: str
    build: Callable[[], nn.Module]
    sha256: str | None = None  # of the released checkpoint, where known
    git_blob: str | None = None  # git blob id of the released checkpoint (`git hash-object`), where known
    channels_last: bool = False  # 2-D CNNs run ~1.8x faster on the CPU in channels-last memory format
    cpu_batch: int = 1  # chunks per forward pass on the CPU, where larger batches measurably pay
    tags: tuple[str, ...] = JAMENDO_TAGS

    @property
    def weights_path(self) -> str:
        """Path of the checkpoint below a weights folder."""
        return f"jamendo/{self.key}/best_model.pth"


# The git blob ids of the seven Jamendo checkpoints in the study's repository (its git tree). The three
# released upstream files hash to exactly the ids listed there, so the other four ids are the released
# files' digests too.
BLOBS = {
    "fcn": "d236c42b7757a5d7fd28535ec6a620ed78049901",
    "musicnn": "61fc3de978b34df788d267ba8a0c2f06d783df9a",
    "crnn": "20045ae7f5bf5882c95512f786555a51f5223d96",
    "sample": "db5bedf34a0ea6500d95e254a43a203a185cec06",
    "se": "a4b55509c3af0558c02723322f3aab5122ae8d14",
    "attention": "45106362fe825f6eaf95a7d7459d15ce7b0313da",
    "hcnn": "2890f9f118cc4fd906caac57fd2b56abe7a34706",
}

TAGGERS: dict[str, TaggerSpec] = {spec.key: spec for spec in [
    TaggerSpec("fcn", "FCN", "Choi et al. 2016, Automatic tagging using deep convolutional neural networks",
               464000, 64, "flattened output of layer5 (before dropout and dense)", FCN,
               "7bce08a66dbc70d096b0a330f44b4cacd9aa25519b83489fbb98f2164a194e2b", BLOBS["fcn"],
               channels_last=True),
    TaggerSpec("musicnn", "Musicnn", "Pons et al. 2018, End-to-end learning for music audio tagging at scale",
               48000, 200, "dense1 output (before bn and relu)", Musicnn,
               "66280f4859376377c47f64313c7ac889a3201fdb06a01bf6e94ac6e619081bb5", BLOBS["musicnn"],
               cpu_batch=10),  # a 30-s clip's 10 chunks: 1.06× the original's speed, against 0.90× one by one
    TaggerSpec("crnn", "CRNN", "Choi et al. 2017, Convolutional recurrent neural networks for music "
               "classification", 464000, 32, "last time step of the GRU output (before dropout and dense)",
               CRNN, "0a558989c0793f488cb677d188464c91f47c007f7c70473230e55537ca598215", BLOBS["crnn"],
               channels_last=True),
    TaggerSpec("sample", "Sample-level CNN", "Lee et al. 2017, Sample-level deep convolutional neural "
               "networks for music auto-tagging using raw waveforms", 59049, 512,
               "output of layer11 squeezed (before dropout and dense)", SampleCNN, git_blob=BLOBS["sample"],
               cpu_batch=8),
    TaggerSpec("se", "Sample-level CNN + SE", "Kim et al. 2018, Sample-level CNN architectures for music "
               "auto-tagging using raw waveforms", 59049, 512, "dense1 output (before bn and relu)",
               SampleCNNSE, git_blob=BLOBS["se"], cpu_batch=8),
    TaggerSpec("attention", "Self-attention CNN", "Won et al. 2019, Toward interpretable music tagging "
               "with self-attention", 240000, 256, "BERT pooler output (before dropout and dense)", CNNSA,
               git_blob=BLOBS["attention"], channels_last=True),
    TaggerSpec("hcnn", "Harmonic CNN", "Won et al. 2020, Data-driven harmonic filters for audio "
               "representation learning", 80000, 256, "dense1 output (before bn and relu)", HarmonicCNN,
               git_blob=BLOBS["hcnn"], channels_last=True),
]}


def top_tags(tags, n: int = 5, names: tuple[str, ...] = JAMENDO_TAGS) -> list[tuple[str, float]]:
    """The `n` most probable tags, highest first (ties in tag order).

    Parameters
    ----------
    tags : array-like, shape (T,)
        Tag probabilities in the order of `names`.
    n : int
        How many tags.
    names : sequence of str, length T
        Tag names (default: the MTG-Jamendo top 50).

    Returns
    -------
    list of (str, float)
        (tag, probability) pairs.
    """
    values = np.asarray(tags, dtype=np.float64)
    order = np.argsort(-values, kind="stable")[:n]
    return [(names[i], float(values[i])) for i in order]


def get_spec(key: str) -> TaggerSpec:
    """The spec of tagger `key`, or a clear error listing the valid keys."""
    try:
        return TAGGERS[key]
    except KeyError:
        raise ShroomsError(f"unknown tagger {key!r}: choose one of {', '.join(TAGGERS)}") from None

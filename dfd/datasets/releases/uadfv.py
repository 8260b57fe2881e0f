"""UADFV (Yang, Li and Lyu, "Exposing Deep Fakes Using Inconsistent Head Poses", ICASSP 2019):
49 real and 49 fake videos, one person each, unzipped as `fake_videos/` holding `real/` and
`fake/` (DeepfakeBench expects `UADFV/{real,fake}/`; both are read).

The file names are not documented. A circulated sample fake `0017_fake.mp4` suggests
`real/NNNN.mp4` and `fake/NNNN_fake.mp4`, the fake made from the real of the same number; dfd
follows that guess (unconfirmed) and pairs them into one group.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from dfd.datasets.labels import FAKE, REAL, REAL_METHOD, LabeledVideo, LabelTable, video_id_for
from dfd.datasets.media import media_under, require_folder

log = logging.getLogger(__name__)
UADFV_METHOD = "UADFV"
_UADFV_NAMES = {REAL: re.compile(r"(\d+)"), FAKE: re.compile(r"(\d+)_fake")}


def read_uadfv(root: str | Path, split: str | None = "test") -> LabelTable:
    """UADFV's `real/` and `fake/` under `root` or under `root/fake_videos/`. `NNNN.mp4` and
    `NNNN_fake.mp4` share the group (and identity) `uadfv/NNNN`; a file named otherwise is still
    read, as a group of its own, and a warning counts them. UADFV has no official split and the
    field scores it whole, as a cross-dataset test set: every video gets `split` ("test"; None
    to split its groups at random instead). DeepfakeBench lists every video in train, val and
    test alike; dfd gives each video one split.
    """
    root = Path(root)
    base = root / "fake_videos" if (root / "fake_videos").is_dir() else root
    table = LabelTable()
    unpaired = 0
    for folder, label in (("real", REAL), ("fake", FAKE)):
        require_folder(base / folder, f"UADFV '{folder}/' folder")
        for path in media_under(base / folder):
            video_id = video_id_for(path, root)
            match = _UADFV_NAMES[label].fullmatch(path.stem)
            unpaired += match is None
            number = match.group(1) if match else ""
            table.videos.append(
                LabeledVideo(
                    path,
                    video_id,
                    label,
                    group=f"uadfv/{number}" if number else video_id,
                    split=split,
                    identity=number,
                    method=UADFV_METHOD if label == FAKE else REAL_METHOD,
                )
            )
    if unpaired:
        log.warning(
            "UADFV: %d videos are not named NNNN.mp4 (real) or NNNN_fake.mp4 (fake); each is "
            "read as a group of its own",
            unpaired,
        )
    return table

"""DeeperForensics-1.0 (Jiang et al., "DeeperForensics-1.0: A Large-Scale Dataset for Real-World
Face Forgery Detection", CVPR 2020; github.com/EndlessSora/DeeperForensics-1.0) as released:

    manipulated_videos/<variant>/000_M101.mp4   FF++ video 000 with actor M101's face (DF-VAE)
    source_videos/<actor>/.../<name>.mp4         the 100 actors' own recordings
    lists/splits/{train,val,test}.txt            the fakes' official split, one file name a line

The authors' real part is FaceForensics++'s 1000 c23 originals (not shipped with DF-1.0): "the
source videos are not the real part for detection". DeepfakeBench instead takes every source
video as real and puts it in train, val and test alike.
"""

from __future__ import annotations

import re
from pathlib import Path

from dfd.datasets.labels import (
    FAKE,
    IDENTITY_SEP,
    REAL,
    REAL_METHOD,
    LabeledVideo,
    LabelTable,
    video_id_for,
)
from dfd.datasets.media import media_under, require_folder
from dfd.datasets.splits import LinkedIds

DF1_VARIANTS = (
    "end_to_end",
    "reenact_postprocess",
    "end_to_end_level_1",
    "end_to_end_level_2",
    "end_to_end_level_3",
    "end_to_end_level_4",
    "end_to_end_level_5",
    "end_to_end_random_level",
    "end_to_end_mix_2_distortions",
    "end_to_end_mix_3_distortions",
    "end_to_end_mix_4_distortions",
)
DF1_REALS = ("ff_originals", "source_videos")
DF1_METHOD = "DF-VAE"
_DF1_FAKE = re.compile(r"(\d{3})_([MW]\d{3})")
_FF_ORIGINAL = re.compile(r"\d{3}")
# path, video id, label, split, ids: FF++ target id and source actor for a fake, its one id for a real
_Entry = tuple[Path, str, int, str | None, list[str]]


def read_deeperforensics(
    root: str | Path,
    variant: str = "end_to_end",
    reals: str = "ff_originals",
    reals_dir: str | Path | None = None,
    splits_dir: str = "lists/splits",
) -> LabelTable:
    """The fakes of one `variant` (:data:`DF1_VARIANTS`: the raw `end_to_end` of the paper, the
    alternative `reenact_postprocess`, or a perturbed copy of `end_to_end`), split by the
    official lists, and the reals `reals` names:

    - `ff_originals` (the authors' protocol): FaceForensics++'s c23 originals, `reals_dir` being
      FF++'s `original_sequences/youtube/c23/videos`. Their ids are FF++'s, so fake `000_M101`
      and real `000` share a group.
    - `source_videos` (DeepfakeBench's choice): every video under `source_videos/<actor>/`,
      grouped with that actor. Unlike DeepfakeBench, dfd does not put them in every split:
      they follow their actor's group.

    A fake links its FF++ target id and its source actor, so a real joins the split of the
    fakes made from it (the lists split by source actor, 71 : 9 : 20). Fakes the lists do not
    name and badly named files are rejected.
    """
    if variant not in DF1_VARIANTS:
        raise ValueError(
            f"unknown DeeperForensics-1.0 variant {variant!r}; expected one of {DF1_VARIANTS}"
        )
    if reals not in DF1_REALS:
        raise ValueError(
            f"unknown DeeperForensics-1.0 reals {reals!r}; expected one of {DF1_REALS}"
        )
    if reals == "ff_originals" and reals_dir is None:
        raise ValueError(
            "DeeperForensics-1.0's reals are FaceForensics++'s c23 originals: set "
            "data.labels.reals_dir to FF++'s original_sequences/youtube/c23/videos "
            "(or data.labels.reals=source_videos)"
        )
    root = Path(root)
    fakes_dir = root / "manipulated_videos" / variant
    require_folder(fakes_dir, f"DeeperForensics-1.0 '{variant}' fakes folder")
    split_of = _official_splits(root / splits_dir)
    table = LabelTable()
    entries: list[_Entry] = []
    for path in media_under(fakes_dir):
        match = _DF1_FAKE.fullmatch(path.stem)
        if match is None:
            table.rejected.append(
                (path.relative_to(root).as_posix(), "name is not <FF++ id>_<actor>")
            )
        elif path.stem not in split_of:
            table.rejected.append(
                (path.relative_to(root).as_posix(), "not in the official split lists")
            )
        elif len(split_of[path.stem]) > 1:
            listed = " and ".join(f"{split}.txt" for split in split_of[path.stem])
            table.rejected.append((path.relative_to(root).as_posix(), f"listed in {listed}"))
        else:
            (split,) = split_of[path.stem]
            entries.append((path, video_id_for(path, root), FAKE, split, list(match.groups())))
    entries += _reals(root, reals, reals_dir, table)
    linked = LinkedIds()
    for *_, ids in entries:
        linked.link(ids)
    table.videos = [
        LabeledVideo(
            path,
            video_id,
            label,
            group=f"df1/{linked.find(ids[0])}",
            split=split,
            identity=IDENTITY_SEP.join(ids),
            method=DF1_METHOD if label == FAKE else REAL_METHOD,
        )
        for path, video_id, label, split, ids in entries
    ]
    return table


def _official_splits(splits_dir: Path) -> dict[str, list[str]]:
    """Fake name (without suffix) -> the splits whose list names it (train.txt, val.txt,
    test.txt); more than one is a contradiction its reader rejects."""
    split_of: dict[str, list[str]] = {}
    for split in ("train", "val", "test"):
        path = splits_dir / f"{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"DeeperForensics-1.0 split list not found: {path}")
        for line in path.read_text(encoding="utf-8").split():
            split_of.setdefault(Path(line).stem, []).append(split)
    return split_of


def _reals(root: Path, reals: str, reals_dir: str | Path | None, table: LabelTable) -> list[_Entry]:
    if reals == "source_videos":
        source_dir = root / "source_videos"
        require_folder(source_dir, "DeeperForensics-1.0 source_videos folder")
        found = []
        for path in media_under(source_dir):
            parts = path.relative_to(source_dir).parts
            if len(parts) < 2:
                table.rejected.append((path.relative_to(root).as_posix(), "not in an actor folder"))
            else:
                found.append((path, video_id_for(path, root), REAL, None, [parts[0]]))
        return found
    reals_dir = Path(reals_dir)  # set: checked on entry
    require_folder(reals_dir, "FaceForensics++ c23 originals folder (reals_dir)")
    found = []
    for path in media_under(reals_dir):
        if _FF_ORIGINAL.fullmatch(path.stem):
            found.append((path, f"ff_originals/{path.stem}", REAL, None, [path.stem]))
        else:
            table.rejected.append((str(path), "name is not a FaceForensics++ id NNN"))
    return found

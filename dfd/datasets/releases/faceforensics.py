"""FaceForensics++ and DeepFakeDetection (DFD), as the FaceForensics++ download script lays
them out (Rössler et al., "FaceForensics++: Learning to Detect Manipulated Facial Images",
ICCV 2019; github.com/ondyari/FaceForensics):

    original_sequences/youtube/<c>/videos/000.mp4                the 1000 YouTube originals
    manipulated_sequences/<method>/<c>/videos/000_003.mp4          target 000, source 003
    original_sequences/actors/<c>/videos/01__exit_phone_room.mp4  DFD's filmed actors
    manipulated_sequences/DeepFakeDetection/<c>/videos/01_02__exit_phone_room__YVGY8LOK.mp4

`<c>` is the compression: `c0` (the download script's folder `raw`; FF++'s own frame
extraction script names it `c0`, so either folder is read), `c23` or `c40`. A
fake links the ids it was made from into one group, so an original and every fake of it stay
in one split.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
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

log = logging.getLogger(__name__)
FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
# the field's usual choices of methods, by name (`data.labels.methods=four`)
FF_METHOD_PRESETS = {
    "all": FF_METHODS,
    "four": FF_METHODS[:4],  # the paper's four, DeepfakeBench's "FaceForensics++"
    "face_swap": ("Deepfakes", "FaceSwap", "FaceShifter"),
    "reenactment": ("Face2Face", "NeuralTextures"),
}
COMPRESSIONS = {"c0": ("raw", "c0"), "raw": ("raw", "c0"), "c23": ("c23",), "c40": ("c40",)}
SPLITS_SOURCE = "github.com/ondyari/FaceForensics, folder dataset/splits"
DFD_METHOD = "DeepFakeDetection"
_DFD_ORIGINAL = re.compile(r"(\d+)__(.+)")
_DFD_FAKE = re.compile(r"(\d+)_(\d+)__(.+)__([A-Za-z0-9]+)")


def ff_methods(methods: str | Sequence[str]) -> tuple[str, ...]:
    """A preset name or a list of methods, checked against FF++'s."""
    if isinstance(methods, str):
        if methods not in FF_METHOD_PRESETS:
            raise ValueError(
                f"unknown FaceForensics++ methods preset {methods!r}; expected one of "
                f"{sorted(FF_METHOD_PRESETS)} or a list of {FF_METHODS}"
            )
        return FF_METHOD_PRESETS[methods]
    unknown = sorted(set(methods) - set(FF_METHODS))
    if unknown:
        raise ValueError(f"unknown FaceForensics++ methods {unknown}; expected {FF_METHODS}")
    return tuple(methods)


def compression_folder(compression: str, parent: Path) -> str:
    """The folder name of `compression` under `parent` (c0 may be `raw` or `c0`)."""
    if compression not in COMPRESSIONS:
        raise ValueError(
            f"unknown FaceForensics++ compression {compression!r}; expected c0 (raw), c23 or c40"
        )
    names = COMPRESSIONS[compression]
    return next((name for name in names if (parent / name).is_dir()), names[0])


def official_splits(splits_dir: Path) -> dict[str, str] | None:
    """FF++'s train.json, val.json and test.json (lists of [id, id] pairs) as id -> split; None,
    with a warning saying where to get them, when the folder does not hold all three."""
    paths = {split: splits_dir / f"{split}.json" for split in ("train", "val", "test")}
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        log.warning(
            "FaceForensics++ official split files %s not found in %s (they are in %s): splitting "
            "by groups instead; set data.labels.splits_dir to their folder for the official split",
            ", ".join(missing),
            splits_dir,
            SPLITS_SOURCE,
        )
        return None
    split_of: dict[str, str] = {}
    for split, path in paths.items():
        for pair in json.loads(path.read_text()):
            split_of.update({str(video): split for video in pair})
    return split_of


def read_faceforensics(
    root: str | Path,
    compression: str = "c23",
    methods: str | Sequence[str] = "all",
    splits_dir: str | Path | None = None,
) -> LabelTable:
    """FaceForensics++: the YouTube originals and the fakes of `methods` (a preset of
    :data:`FF_METHOD_PRESETS` or a list) at one compression.

    With `splits_dir` holding the official split files, they fix every video's split (a fake
    `000_003` goes with the pair [000, 003]); videos of ids they do not list are rejected.
    Without them, a warning says where they are and the groups are split at random. A video's
    identity is its id(s) (`<target>;<source>` for a fake), its method the folder's name.
    """
    root = Path(root)
    folder = compression_folder(compression, root / "original_sequences" / "youtube")
    originals_dir = root / "original_sequences" / "youtube" / folder / "videos"
    require_folder(originals_dir, "FaceForensics++ originals folder")
    entries = [(path, REAL_METHOD, [path.stem]) for path in media_under(originals_dir)]
    table = LabelTable()
    for method in ff_methods(methods):
        method_dir = root / "manipulated_sequences" / method / folder / "videos"
        if not method_dir.is_dir():
            table.rejected.append(
                (f"manipulated_sequences/{method}", f"folder missing: {method_dir}")
            )
            continue
        for path in media_under(method_dir):
            ids = path.stem.split("_")
            if len(ids) != 2:
                table.rejected.append(
                    (path.relative_to(root).as_posix(), "name is not <target>_<source>")
                )
                continue
            entries.append((path, method, ids))
    split_of = official_splits(Path(splits_dir)) if splits_dir else None
    if split_of is not None:
        entries = _in_official_split(entries, split_of, root, table)
    table.videos = _grouped(entries, root, "ff", split_of)
    return table


def read_deepfakedetection(
    root: str | Path, compression: str = "c23", split: str | None = "test"
) -> LabelTable:
    """DeepFakeDetection (DFD, Google and Jigsaw's part of FaceForensics++): the actors'
    originals `NN__<scene>` and the fakes `NN_MM__<scene>__<code>`, actor NN's video of the
    scene with actor MM's face swapped in (the code tells apart fakes of the same pair and
    scene). A fake is grouped with both actors, so every video showing an actor is in one
    group. DFD has no official split and the field scores it whole, as a cross-dataset test
    set: every video gets `split` ("test"; None to split its groups at random instead).
    """
    root = Path(root)
    folder = compression_folder(compression, root / "original_sequences" / "actors")
    originals_dir = root / "original_sequences" / "actors" / folder / "videos"
    fakes_dir = root / "manipulated_sequences" / DFD_METHOD / folder / "videos"
    require_folder(originals_dir, "DFD actors' originals folder")
    require_folder(fakes_dir, "DFD fakes folder")
    table = LabelTable()
    entries = []
    for path, pattern, method in (
        *((p, _DFD_ORIGINAL, REAL_METHOD) for p in media_under(originals_dir)),
        *((p, _DFD_FAKE, DFD_METHOD) for p in media_under(fakes_dir)),
    ):
        match = pattern.fullmatch(path.stem)
        if match is None:
            expected = "NN__<scene>" if method == REAL_METHOD else "NN_MM__<scene>__<code>"
            table.rejected.append((path.relative_to(root).as_posix(), f"name is not {expected}"))
            continue
        actors = [match.group(1)] if method == REAL_METHOD else [match.group(1), match.group(2)]
        entries.append((path, method, actors))
    table.videos = _grouped(entries, root, "dfd", None, split)
    log.info(
        "DFD: %d videos of %d actors in %d groups",
        len(table.videos),
        len({i for _, _, ids in entries for i in ids}),
        len({video.group for video in table.videos}),
    )
    return table


def _in_official_split(
    entries: list[tuple[Path, str, list[str]]],
    split_of: dict[str, str],
    root: Path,
    table: LabelTable,
) -> list[tuple[Path, str, list[str]]]:
    kept = []
    for entry in entries:
        if entry[2][0] in split_of:
            kept.append(entry)
        else:
            table.rejected.append(
                (entry[0].relative_to(root).as_posix(), "not in the official split files")
            )
    return kept


def _grouped(
    entries: list[tuple[Path, str, list[str]]],
    root: Path,
    prefix: str,
    split_of: dict[str, str] | None,
    split: str | None = None,
) -> list[LabeledVideo]:
    """Labelled videos whose group links every id any of them was made from; their split from
    `split_of` (by first id), else `split`."""
    groups = LinkedIds()
    for _, _, ids in entries:
        groups.link(ids)
    return [
        LabeledVideo(
            path,
            video_id_for(path, root),
            REAL if method == REAL_METHOD else FAKE,
            group=f"{prefix}{groups.find(ids[0])}",
            split=split_of[ids[0]] if split_of is not None else split,
            identity=IDENTITY_SEP.join(ids),
            method=method,
        )
        for path, method, ids in entries
    ]

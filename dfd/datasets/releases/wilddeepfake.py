"""WildDeepfake (Zi et al., "WildDeepfake: A Challenging Real-World Dataset for Deepfake
Detection", ACM MM 2020; github.com/OpenTAI/wild-deepfake) once its archives are unpacked:

    fake_train/1.tar.gz  ->  fake_train/1/fake/131/942.png   sequence 131 of archive 1
    real_test/7.tar.gz   ->  real_test/7/real/25/10.png

Only face crops are released, as PNG frames: each `<seq>` folder is one video. The folders are
`real_train`, `real_test`, `fake_train`, `fake_test` on Hugging Face and `real train`, ... (with a
space) in the README; both are read.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from dfd.datasets.labels import FAKE, REAL, REAL_METHOD, LabeledVideo, LabelTable, video_id_for
from dfd.datasets.media import media_under

WDF_SPLITS = {"train": None, "test": "test"}  # train has no split: val is drawn from its groups
WDF_METHOD = "WildDeepfake"
_WDF_LABELS = {"real": REAL, "fake": FAKE}


def read_wilddeepfake(root: str | Path, splits: Sequence[str] = ("train", "test")) -> LabelTable:
    """The unpacked sequences of `splits` (train, test), labelled by their folder. A test
    sequence gets split "test"; train sequences get none, so validation is drawn from their
    groups. How archives and sequences map to source videos or people is undocumented, so a
    sequence is grouped with its archive (`<split>/<N>`, real and fake archives of the same
    number alike), the largest unit the release names. dfd does not unpack the archives: a
    folder holding only archives is an error giving the command, an archive beside unpacked
    ones but not unpacked itself is a rejected row.
    """
    root = Path(root)
    table = LabelTable()
    for split in splits:
        if split not in WDF_SPLITS:
            raise ValueError(f"unknown WildDeepfake split {split!r}; expected train and/or test")
        for label_name in _WDF_LABELS:
            folder = _split_folder(root, label_name, split)
            sequences = media_under(folder)
            _check_unpacked(folder, sequences, root, table)
            for path in sequences:
                video, reason = _sequence(path, folder, label_name, split, root)
                if video is None:
                    table.rejected.append((path.relative_to(root).as_posix(), reason))
                else:
                    table.videos.append(video)
    return table


def _split_folder(root: Path, label_name: str, split: str) -> Path:
    names = (f"{label_name}_{split}", f"{label_name} {split}")
    folder = next((root / name for name in names if (root / name).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(
            f"WildDeepfake folder {names[0]!r} (or {names[1]!r}) not found in {root}"
        )
    return folder


def _check_unpacked(folder: Path, sequences: list[Path], root: Path, table: LabelTable) -> None:
    archives = sorted(p for p in folder.iterdir() if p.name.endswith((".tar.gz", ".tar")))
    unpack = f'cd {shlex.quote(str(folder))} && for f in *.tar.gz; do tar -xf "$f"; done'
    if archives and not sequences:
        raise FileNotFoundError(
            f"WildDeepfake folder {folder} holds {len(archives)} archives and no unpacked "
            f"frames; dfd does not unpack them, run: {unpack}"
        )
    for archive in archives:
        if not (folder / archive.name.split(".")[0]).is_dir():
            table.rejected.append(
                (archive.relative_to(root).as_posix(), f"not unpacked; run: {unpack}")
            )


def _sequence(
    path: Path, folder: Path, label_name: str, split: str, root: Path
) -> tuple[LabeledVideo | None, str]:
    parts = path.relative_to(folder).parts
    if len(parts) != 3 or parts[1] not in _WDF_LABELS:
        return None, "not <archive>/<real|fake>/<sequence>/ frames"
    if parts[1] != label_name:
        return None, f"a {parts[1]} sequence in a {label_name} folder"
    label = _WDF_LABELS[label_name]
    return LabeledVideo(
        path,
        video_id_for(path, root),
        label,
        group=f"wdf/{split}/{parts[0]}",
        split=WDF_SPLITS[split],
        method=WDF_METHOD if label == FAKE else REAL_METHOD,
    ), ""

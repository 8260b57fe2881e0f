"""DeepfakeBench's preprocessed datasets (Yan et al., "DeepfakeBench: A Comprehensive Benchmark of
Deepfake Detection", NeurIPS 2023 Datasets and Benchmarks; github.com/SCLBD/DeepfakeBench), read
from its dataset JSON so its users bring the frames they already prepared:

    {<dataset>: {<label name>: {train|val|test: {[<compression>:] {<video>: {"label", "frames"}}}}}}

The compression level (`c23`, `c40`, `raw`) is there only for the FaceForensics++ family. Each
video's frames lie in one folder (`.../frames/<video>/<NNN>.png`), and that folder is the video.

Where DeepfakeBench's JSON departs from the releases' authors, dfd reads it as follows:

- A video DeepfakeBench lists in several splits gets one: "test" if it is listed in test (the
  set its users report), "val" if only in val, "train" if only in train and the JSON has a
  val set of its own (FF++'s official split), else none, so dfd splits its groups. So DFD,
  UADFV and DF-1.0's reals (in all three splits there) are test, as are Celeb-DF's test-list
  videos (which DeepfakeBench also puts in train) and DFDC Preview's test set (also its val);
  DFDC's train parts (both train and val there) get none.
- DF-1.0's reals are its source videos there; the authors' are FF++'s c23 originals
  (`data=deeperforensics` reads either).
- DeepfakeBench's DFDC `val` holds one entry dict instead of videos: a rejected row here.
- DeepfakeBench's video-level AUC groups frames by folder name alone, so `000_003` of four
  FF++ methods is one "video" there; in dfd a video's id is its folder's path, one per method.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dfd.datasets.labels import (
    FAKE,
    IDENTITY_SEP,
    REAL,
    REAL_METHOD,
    SPLITS,
    LabeledVideo,
    LabelTable,
    video_id_for,
)
from dfd.datasets.media import require_folder
from dfd.datasets.splits import LinkedIds

log = logging.getLogger(__name__)
# the datasets whose splits hold a compression level (DeepfakeBench's FF family)
DFB_FF_FAMILY = frozenset(
    {"FaceForensics++", "FaceShifter", "DeepFakeDetection", "FF-DF", "FF-F2F", "FF-FS", "FF-NT"}
)
# a video name -> the ids it was made from, as its release names them
_DFB_IDS = (
    re.compile(r"(\d{3})(?:_(\d{3}))?"),  # FF++: 000, 000_003
    re.compile(r"(\d{3})_([MW]\d{3})"),  # DF-1.0: FF++ target, source actor
    re.compile(r"(\d+)(?:_(\d+))?__.+"),  # DFD: 01__scene, 01_02__scene__code (actors)
)
_CELEB = re.compile(r"(id\d+)(?:_(id\d+))?_(\d+)")  # Celeb-DF: id0_0000, id0_id1_0000
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


def deepfakebench_label(label_name: str) -> int:
    """0 for a label name whose last `_`/`-` part is "real" (any case), else 1. This is
    DeepfakeBench's `label_dict` for every name it defines (`FF-real`, `DFDCP_Real`,
    `CelebDFv2_real` are 0; `FF-DF`, `DFDCP_FakeA`, `DF_fake` are 1) and for DF40's
    `<name>_Real`/`<name>_Fake` (a method named `whichfaceisreal` stays fake)."""
    return REAL if re.split(r"[_-]", label_name)[-1].lower() == "real" else FAKE


@dataclass
class _Listed:
    """One frame folder as the JSON lists it, possibly under several splits."""

    label_name: str
    name: str
    splits: set[str] = field(default_factory=set)


def read_deepfakebench(
    json_path: str | Path,
    root: str | Path,
    dataset: str | None = None,
    compression: str = "c23",
) -> LabelTable:
    """The videos of `dataset` (the JSON's only one when None) in DeepfakeBench's JSON at
    `json_path`; for the FF family, those of `compression`. Frame paths are resolved against
    `root`, DeepfakeBench's `rgb_dir` (the folder its JSON paths start from), after turning
    Windows `\\` separators into `/` and dropping a leading `./`; an absolute path that is
    not on this machine (a JSON written elsewhere, a Windows drive path included) is found
    under `root` by its longest tail.

    A video's label comes from its label name (:func:`deepfakebench_label`), its method is the
    label name for a fake, its split is chosen as the module says. It is grouped like the
    release names it: an FF++ fake with both ids (DF-1.0's with its FF++ target and actor), a
    DFD video with its actors, a Celeb-DF fake with its source video; any other video alone.
    A group is kept within its split (`<split>/...`), so the JSON's splits stay exactly as
    given; ids it shares across them are counted in a warning. Entries without frames, with
    frames in several folders, with a contradicting label, or under an unknown split or a
    missing compression level, are rejected with the reason.
    """
    json_path, root = Path(json_path), Path(root)
    if not json_path.is_file():
        raise FileNotFoundError(f"DeepfakeBench dataset JSON not found: {json_path}")
    require_folder(root, "DeepfakeBench frames root (rgb_dir)")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    dataset = _dataset_name(data, dataset, json_path)
    table = LabelTable()
    listed: dict[Path, _Listed] = {}
    for where, label_name, split, videos in _split_blocks(
        data[dataset], dataset, compression, table
    ):
        for name, entry in videos.items():
            folder, reason = _frame_folder(entry, label_name, root)
            if folder is None:
                table.rejected.append((f"{where}/{name}", reason))
                continue
            known = listed.setdefault(folder, _Listed(label_name, name))
            if known.label_name != label_name:
                table.rejected.append(
                    (f"{where}/{name}", f"also listed as {known.label_name!r}; kept that one")
                )
                continue
            known.splits.add(split)
    has_val = any(item.splits == {"val"} for item in listed.values())
    table.videos = _grouped(dataset, listed, root, has_val)
    return table


def _dataset_name(data: object, dataset: str | None, json_path: Path) -> str:
    names = sorted(data) if isinstance(data, dict) else []
    if dataset is None and len(names) == 1:
        return names[0]
    if dataset not in names:
        raise ValueError(f"{json_path.name}: set data.labels.dataset to one of {names}")
    return dataset


def _split_blocks(
    labels: dict, dataset: str, compression: str, table: LabelTable
) -> Iterator[tuple[str, str, str, dict]]:
    """(where, label name, split, {video: entry}) for every well-formed split of every label."""
    for label_name, splits in labels.items():
        for split, block in splits.items():
            where = f"{dataset}/{label_name}/{split}"
            if split not in SPLITS:
                table.rejected.append((where, f"unknown split {split!r}"))
                continue
            if dataset in DFB_FF_FAMILY:
                if compression not in block:
                    found = ", ".join(sorted(block)) or "none"
                    table.rejected.append((where, f"no {compression} videos (found: {found})"))
                    continue
                block = block[compression]
                where = f"{where}/{compression}"
            if "frames" in block:
                table.rejected.append((where, "one entry instead of a dict of videos"))
                continue
            yield where, label_name, split, block


def _frame_folder(entry: object, label_name: str, root: Path) -> tuple[Path | None, str]:
    if not isinstance(entry, dict) or not entry.get("frames"):
        return None, "no frames listed"
    if entry.get("label", label_name) != label_name:
        return None, f"label {entry.get('label')!r} under label name {label_name!r}"
    written = [str(frame).replace("\\", "/") for frame in entry["frames"]]
    # a drive path (`D:/data/...`, a JSON written on Windows) is absolute: found like the others
    frames = [_WINDOWS_DRIVE.sub("/", frame, count=1) for frame in written]
    folders = {_resolved(frame, root).parent for frame in frames}
    if len(folders) > 1:
        return None, f"frames in {len(folders)} folders"
    folder = folders.pop()
    if folder.is_absolute() and not folder.is_dir() and not folder.is_relative_to(root):
        moved = _rerooted(folder, root)
        if moved is None:
            return None, f"an absolute path not on this machine ({written[0]}) nor under root"
        folder = moved
    return folder, ""


def _rerooted(folder: Path, root: Path) -> Path | None:
    """The longest tail of an absolute folder (a JSON written on another machine, such as
    `/data/them/DF40/e4e/ff/frames/000`) that exists under `root`, or None."""
    parts = folder.parts[1:]
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        if candidate.is_dir():
            return candidate
    return None


def _resolved(relative: str, root: Path) -> Path:
    """A JSON frame path (`/`-separated) on this machine: a leading `./` dropped, under `root`."""
    while relative.startswith("./"):
        relative = relative[2:]
    path = PurePosixPath(relative)
    return Path(path) if path.is_absolute() else root / path


def _split(splits: set[str], has_val: bool) -> str | None:
    if "test" in splits:
        return "test"
    if splits == {"val"}:
        return "val"
    if splits == {"train"} and has_val:
        return "train"
    return None


def _ids(name: str) -> tuple[list[str], str]:
    """The ids that tie a video to others, from its name, and the people it shows; ([], "")
    when its release's naming is not known. A Celeb-DF video is tied to its source video
    (`id0_id1_0000` to `id0_0000`), as `data=celebdf` groups it."""
    celeb = _CELEB.fullmatch(name)
    if celeb:
        target, swapped_in, number = celeb.groups()
        people = [target, swapped_in] if swapped_in else [target]
        return [f"{target}_{number}"], IDENTITY_SEP.join(people)
    for pattern in _DFB_IDS:
        match = pattern.fullmatch(name)
        if match:
            ids = [i for i in match.groups() if i]
            return ids, IDENTITY_SEP.join(ids)
    return [], ""


def _grouped(
    dataset: str, listed: dict[Path, _Listed], root: Path, has_val: bool
) -> list[LabeledVideo]:
    linked = LinkedIds()
    rows = []
    for folder, item in listed.items():
        ids, people = _ids(item.name)
        linked.link(ids)
        rows.append((folder, item, ids, people, _split(item.splits, has_val)))
    videos = []
    for folder, item, ids, people, split in rows:
        video_id = _video_id(folder, root)
        key = f"{dataset}/{linked.find(ids[0])}" if ids else video_id
        label = deepfakebench_label(item.label_name)
        videos.append(
            LabeledVideo(
                folder,
                video_id,
                label,
                group=f"{split}/{key}" if split else key,
                split=split,
                identity=people,
                method=item.label_name if label == FAKE else REAL_METHOD,
            )
        )
    _warn_shared_ids([(ids, split) for _, _, ids, _, split in rows], linked)
    return videos


def _video_id(folder: Path, root: Path) -> str:
    """The folder's path under `root`; the whole path for a folder elsewhere (a bare name
    would merge `000_003` of several methods)."""
    if folder.is_relative_to(root):
        return video_id_for(folder, root)
    return folder.as_posix().lstrip("/")


def _warn_shared_ids(rows: list[tuple[list[str], str | None]], linked: LinkedIds) -> None:
    splits_of: dict[str, set[str | None]] = {}
    for ids, split in rows:
        if ids:
            splits_of.setdefault(linked.find(ids[0]), set()).add(split)
    shared = sum(len(splits) > 1 for splits in splits_of.values())
    if shared:
        log.warning(
            "DeepfakeBench JSON: %d groups of linked ids have videos in more than one split "
            "(kept as the JSON gives them)",
            shared,
        )

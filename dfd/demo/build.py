"""Build the demo dataset: real clips of real people and their self-blended and face-swapped twins.

    python -m dfd.demo.build --out data/demo/raw [--seed 0] [--force]

Every identity belongs to one small group (a pair, or one trio) and face swaps only happen
inside a group, so a grouped split never puts a donor's face on both sides of a split.

labels.csv has the columns file,label,group,split,identity,method. ``identity`` is the person
filmed; a face swap shows two people, so its identity is ``<filmed>;<donor>`` (the filmed
person's clip with the donor's face). ``method`` is real, sbi (self-blended) or swap.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from rich.progress import track

from dfd.data.selfblend.blend import self_blend_clip
from dfd.demo.animate import animate_photo, sample_motion
from dfd.demo.encode import FPS, even_size, write_video
from dfd.demo.media import fetch_media, media_info
from dfd.demo.options import parser
from dfd.demo.swap import Donor, swap_clip
from dfd.prepare.detectors import Detections
from dfd.prepare.detectors.mtcnn import MtcnnDetector
from dfd.prepare.tracking import FaceTrack, find_tracks

VIDEO_IDENTITIES: dict[str, tuple[str, ...]] = {
    "woman_pexels": ("woman_pexels",),
    "man_webcam": ("man_webcam", "man_face_noface", "man_noface_face"),
    "carphone": ("carphone",),
}
# photo identity -> (media name, index of the face from left to right)
PHOTO_IDENTITIES: dict[str, tuple[str, int]] = {
    "photo_single_face": ("photo_single_face", 0),
    "photo_f1": ("photo_f1", 0),
    "photo_f13": ("photo_f13", 0),
    "photo_f15": ("photo_f15", 0),
    "photo_m7": ("photo_m7", 0),
    "grace_hopper": ("photo_grace_hopper", 0),
    **{f"multi_face_{i}": ("photo_multi_face", i) for i in range(5)},
    **{f"poker_{i}": ("photo_poker_table", i) for i in range(6)},
}
TRACK_EVERY, TRACK_SMOOTH, TRACK_MAX_GAP = (
    3,
    5,
    9,
)  # frames: detect every 3rd, smooth over 5, bridge gaps <= 9
# Swaps stay inside a group; the donor of each member is the next member of its group.
# man_webcam and photo_single_face may be the same man, so they share a group.
GROUPS: dict[str, tuple[str, ...]] = {
    "pair00": ("woman_pexels", "photo_f15"),
    "pair01": ("man_webcam", "photo_single_face"),
    "pair02": ("carphone", "photo_m7"),
    "pair03": ("photo_f1", "photo_f13", "grace_hopper"),  # a trio
    "pair04": ("multi_face_0", "multi_face_2"),  # the two men of the group photo
    "pair05": ("multi_face_1", "multi_face_3", "multi_face_4"),  # its three women (a trio)
    "pair06": ("poker_0", "poker_1"),  # the poker table's six, left to right: two women,
    "pair07": ("poker_2", "poker_3"),  # two men,
    "pair08": ("poker_4", "poker_5"),  # a man and a woman
}
# The demo's official split, by group (like the split files of FaceForensics++): test holds
# people training never saw (7: a filmed man, four portraits, two of a group photo);
# validation, which picks the checkpoint and the threshold, holds two pairs from group photos
# whose faces are as large and sharp as the test ones, so the choice it makes means something.
GROUP_SPLITS: dict[str, str] = {
    "pair00": "train",
    "pair02": "train",
    "pair05": "train",
    "pair06": "train",
    "pair04": "val",
    "pair07": "val",
    "pair01": "test",
    "pair03": "test",
    "pair08": "test",
    "control": "train",
}
CONTROL = "cartoon_no_face"
MAX_WIDTH = 640
PHOTO_CONTEXT = 2.5
PHOTO_SIZE = 360


@dataclass
class Clip:
    """A real clip with per-frame landmarks, before encoding."""

    name: str
    identity: str
    frames: np.ndarray
    points: np.ndarray
    origin: dict = field(default_factory=dict)


def read_video(path: Path, fps: float = FPS, max_width: int = MAX_WIDTH) -> np.ndarray:
    """All frames of a video as RGB, resampled to `fps` and downscaled to at most max_width."""
    with av.open(str(path)) as container:
        decoded = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    times = np.array([t for t, _ in decoded]) - decoded[0][0]
    duration = times[-1] + (times[-1] / max(len(times) - 1, 1))
    wanted = np.arange(int(round(duration * fps))) / fps
    picks = np.clip(np.searchsorted(times, wanted + 1e-6, side="right") - 1, 0, len(decoded) - 1)
    height, width = decoded[0][1].shape[:2]
    scale = min(1.0, max_width / width)
    size = even_size(round(height * scale), round(width * scale))
    frames = [decoded[i][1] for i in picks]
    if size != (height, width):
        frames = [cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in frames]
    return np.stack(frames)


def _seed(seed: int, name: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), stream])


def video_clips(
    identity: str, paths: dict[str, Path], clip_len: int, max_clips: int | None
) -> list[Clip]:
    """Cut the identity's videos into clips of clip_len frames where a face is tracked throughout."""
    clips: list[Clip] = []
    for source in VIDEO_IDENTITIES[identity]:
        frames = read_video(paths[source])
        faces = track_face(frames)
        found = (
            faces.covered(TRACK_MAX_GAP, np.arange(len(frames)))
            if faces
            else np.zeros(len(frames), bool)
        )
        edges = np.flatnonzero(np.diff(np.r_[0, found.astype(int), 0]))
        taken = 0
        for start, stop in zip(edges[::2], edges[1::2]):
            count = (stop - start) // clip_len
            first = start + ((stop - start) - count * clip_len) // 2
            for k in range(count):
                if max_clips is not None and taken >= max_clips:
                    break
                a, b = first + k * clip_len, first + (k + 1) * clip_len
                clips.append(
                    Clip(
                        f"{identity}_{len(clips):02d}",
                        identity,
                        frames[a:b],
                        faces.points[a:b],
                        {
                            "source": source,
                            "start_s": round(a / FPS, 3),
                            "end_s": round(b / FPS, 3),
                        },
                    )
                )
                taken += 1
    return clips


def crop_photo_face(
    image: np.ndarray,
    box: np.ndarray,
    points: np.ndarray,
    context: float = PHOTO_CONTEXT,
    size: int = PHOTO_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """A square crop `context` times the face box (kept inside the image), resized to size x size."""
    height, width = image.shape[:2]
    side = int(min(context * max(box[2] - box[0], box[3] - box[1]), height, width))
    cx, cy = (box[:2] + box[2:]) / 2
    x0 = int(np.clip(round(cx - side / 2), 0, width - side))
    y0 = int(np.clip(round(cy - side / 2), 0, height - side))
    crop = cv2.resize(
        image[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA
    )
    return crop, (points - (x0, y0)) * (size / side)


@lru_cache(maxsize=2)
def face_detector(max_side: int | None, min_face_size: int) -> MtcnnDetector:
    """A shared MTCNN detector for the demo builder (its weights ship in the facenet-pytorch wheel)."""
    return MtcnnDetector(max_side=max_side, min_face_size=min_face_size)


def detect_photo_faces(image: np.ndarray) -> Detections:
    """All faces of a still photo, searched at full resolution."""
    return face_detector(None, 20).detect([image])[0]


def track_face(frames: np.ndarray) -> FaceTrack | None:
    """The main face of a video: detection on every 3rd frame at 320 px, interpolated and smoothed."""
    detections = face_detector(320, 32).detect_every(frames, TRACK_EVERY)
    tracks = find_tracks(detections, np.arange(len(frames)), smooth_window=TRACK_SMOOTH)
    return tracks[0] if tracks else None


@lru_cache(maxsize=4)
def _photo_faces(path: Path) -> tuple[np.ndarray, Detections]:
    image = np.asarray(Image.open(path).convert("RGB"))
    return image, detect_photo_faces(image)


def photo_donor(identity: str, paths: dict[str, Path]) -> Donor:
    """The cropped face photo of a photo identity, with its landmarks."""
    source, index = PHOTO_IDENTITIES[identity]
    image, faces = _photo_faces(paths[source])
    if len(faces.boxes) <= index:
        raise RuntimeError(
            f"{source}: expected at least {index + 1} faces, found {len(faces.boxes)}"
        )
    order = np.argsort(faces.boxes[:, 0], kind="stable")[index]
    crop, points = crop_photo_face(image, faces.boxes[order], faces.points[order])
    return Donor(identity, crop, points)


def photo_clips(donor: Donor, clip_len: int, count: int, seed: int) -> list[Clip]:
    """`count` animated clips of one photo identity, each with its own camera motion."""
    clips = []
    for k in range(count):
        name = f"{donor.name}_{k:02d}"
        motion = sample_motion(_seed(seed, name, 0))
        frames, points = animate_photo(donor.image, donor.points, clip_len, motion)
        clips.append(
            Clip(
                name,
                donor.name,
                frames,
                points,
                {"source": PHOTO_IDENTITIES[donor.name][0], "motion": asdict(motion)},
            )
        )
    return clips


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dfd_version() -> str:
    try:
        return version("dfd")
    except PackageNotFoundError:
        return "unknown"


def build_demo(
    out_dir: Path,
    seed: int = 0,
    cache_dir: Path | None = None,
    clip_seconds: float = 2.0,
    clips_per_photo: int = 3,
    max_clips_per_video: int | None = None,
    groups: Sequence[str] | None = None,
    force: bool = False,
) -> Path:
    """Build the demo dataset under out_dir and return its labels CSV
    (file,label,group,split,identity,method).

    `groups` restricts the build to some of GROUPS (the control clip is always included);
    an existing labels.csv is kept unless force is set.
    """
    out_dir = Path(out_dir)
    labels_path = out_dir / "labels.csv"
    if labels_path.exists() and not force:
        print(f"{labels_path} exists; skipping (use --force to rebuild)")
        return labels_path
    started = time.perf_counter()
    chosen = {g: GROUPS[g] for g in (groups or GROUPS)}
    identities = [i for members in chosen.values() for i in members]
    needed = {CONTROL}
    for identity in identities:
        needed |= set(VIDEO_IDENTITIES.get(identity, ())) | {
            PHOTO_IDENTITIES.get(identity, (CONTROL,))[0]
        }
    paths = fetch_media(sorted(needed), cache_dir)
    clip_len = max(1, int(round(clip_seconds * FPS)))

    clips: dict[str, list[Clip]] = {}
    donors: dict[str, Donor] = {}
    for identity in track(identities, description="faces and clips"):
        if identity in VIDEO_IDENTITIES:
            clips[identity] = video_clips(identity, paths, clip_len, max_clips_per_video)
            if not clips[identity]:
                raise RuntimeError(f"no clip with a face throughout for {identity}")
            first = clips[identity][0]
            middle = len(first.frames) // 2
            donors[identity] = Donor(identity, first.frames[middle], first.points[middle])
        else:
            donors[identity] = photo_donor(identity, paths)
            clips[identity] = photo_clips(donors[identity], clip_len, clips_per_photo, seed)

    rows: list[tuple[str, str, str, str, str, str]] = []
    fakes: dict[str, dict] = {}
    reals: dict[str, dict] = {}
    jobs = [
        (g, m, c, members[(members.index(m) + 1) % len(members)])
        for g, members in chosen.items()
        for m in members
        for c in clips[m]
    ]
    for group, identity, clip, donor_id in track(jobs, description="writing clips"):
        real = f"real/{clip.name}.mp4"
        write_video(out_dir / real, clip.frames)
        rows.append((real, "REAL", group, GROUP_SPLITS[group], identity, "real"))
        reals[real] = {"identity": identity, "group": group, **clip.origin}
        blended, blend_params = self_blend_clip(clip.frames, clip.points, _seed(seed, clip.name, 1))
        sbi = f"fake/{clip.name}_sbi.mp4"
        write_video(out_dir / sbi, blended)
        rows.append((sbi, "FAKE", group, GROUP_SPLITS[group], identity, "sbi"))
        fakes[sbi] = {
            "method": "self_blend",
            "source_clip": real,
            "donor": None,
            "group": group,
            "params": asdict(blend_params),
        }
        swapped, swap_params = swap_clip(
            clip.frames, clip.points, donors[donor_id], _seed(seed, clip.name, 2)
        )
        swap = f"fake/{clip.name}_swap.mp4"
        write_video(out_dir / swap, swapped)
        rows.append((swap, "FAKE", group, GROUP_SPLITS[group], f"{identity};{donor_id}", "swap"))
        fakes[swap] = {
            "method": "face_swap",
            "source_clip": real,
            "donor": donor_id,
            "group": group,
            "params": asdict(swap_params),
        }

    control = f"real/{CONTROL}.mp4"
    write_video(out_dir / control, read_video(paths[CONTROL])[:clip_len])
    rows.append((control, "REAL", "control", GROUP_SPLITS["control"], "", "real"))
    reals[control] = {
        "identity": None,
        "group": "control",
        "source": CONTROL,
        "note": "negative control without a human face; preparation should skip it (no_face)",
    }

    provenance = {
        "dfd_version": _dfd_version(),
        "seed": seed,
        "clip_seconds": clip_seconds,
        "fps": FPS,
        "groups": {g: list(m) for g, m in chosen.items()},
        "sources": {
            name: {**asdict(media_info(name)), "sha256": _sha256(path)}
            for name, path in paths.items()
        },
        "real": reals,
        "fake": fakes,
    }
    (out_dir / "provenance.json").write_text(json.dumps(provenance, indent=1))
    with open(labels_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group", "split", "identity", "method"])
        writer.writerows(rows)
    n_real = sum(row[1] == "REAL" for row in rows)
    print(
        f"demo dataset: {n_real} real ({n_real - 1} with faces + 1 control), {len(rows) - n_real} fake "
        f"clips, {len(identities)} identities in {len(chosen)} groups, "
        f"built in {time.perf_counter() - started:.0f} s -> {labels_path}"
    )
    return labels_path


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    args = parser().parse_args(argv)
    build_demo(
        args.out,
        seed=args.seed,
        cache_dir=args.cache_dir,
        clip_seconds=args.clip_seconds,
        force=args.force,
    )


if __name__ == "__main__":
    main()

"""Build the demo dataset: real clips of real people and their self-blended and face-swapped twins.

    python -m dfd.demo.build --out data/demo/raw [--seed 0] [--force]

Who is in it is dfd/demo/roster.yaml. Every identity belongs to one small group (a pair or a
trio) and face swaps only happen inside a group, so a grouped split never puts a donor's face
on both sides of a split.

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
from dfd.demo.media import fetch_media
from dfd.demo.options import parser
from dfd.demo.roster import Person, load_roster
from dfd.demo.swap import Donor, swap_clip
from dfd.prepare.detectors import Detections
from dfd.prepare.detectors.mtcnn import MtcnnDetector
from dfd.prepare.tracking import FaceTrack, find_tracks

TRACK_EVERY, TRACK_SMOOTH, TRACK_MAX_GAP = (
    3,
    5,
    9,
)  # frames: detect every 3rd, smooth over 5, bridge gaps <= 9
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
    person: Person, paths: dict[str, Path], clip_len: int, max_clips_per_video: int | None
) -> list[Clip]:
    """Cut the person's videos into clips of clip_len frames where a face is tracked throughout.

    At most max_clips_per_video from each video (the first ones), then at most the person's
    own max_clips, spread evenly over all of them (a 200 s video gives clips from its whole
    length, not its first seconds).
    """
    windows: list[tuple[str, np.ndarray, np.ndarray, int, int]] = []
    for source in person.videos:
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
                if max_clips_per_video is not None and taken >= max_clips_per_video:
                    break
                a = first + k * clip_len
                windows.append((source, frames, faces.points, a, a + clip_len))
                taken += 1
    if person.max_clips is not None and len(windows) > person.max_clips:
        picks = np.linspace(0, len(windows) - 1, person.max_clips).round().astype(int)
        windows = [windows[i] for i in picks]
    return [
        Clip(
            f"{person.name}_{k:02d}",
            person.name,
            frames[a:b],
            points[a:b],
            {"source": source, "start_s": round(a / FPS, 3), "end_s": round(b / FPS, 3)},
        )
        for k, (source, frames, points, a, b) in enumerate(windows)
    ]


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


def face_at(faces: Detections, point: tuple[float, float], size: tuple[int, int]) -> int:
    """Index of the face whose box holds `point` (fractions of width, height; size is (h, w)).

    Several boxes can hold it only when they overlap; the nearest centre wins then.
    """
    x, y = point[0] * size[1], point[1] * size[0]
    boxes = faces.boxes
    holds = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    if not holds.any():
        raise LookupError(f"no face found at {point} (faces: {len(boxes)})")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    distance = np.where(holds, np.hypot(centres[:, 0] - x, centres[:, 1] - y), np.inf)
    return int(np.argmin(distance))


def photo_donor(person: Person, paths: dict[str, Path]) -> Donor:
    """The cropped face photo of a photographed person, with its landmarks."""
    image, faces = _photo_faces(paths[person.photo])
    try:
        index = face_at(faces, person.face_at, image.shape[:2])
    except LookupError as error:
        raise RuntimeError(f"{person.name} in {person.photo}: {error}") from None
    crop, points = crop_photo_face(image, faces.boxes[index], faces.points[index])
    return Donor(person.name, crop, points)


def photo_clips(donor: Donor, source: str, clip_len: int, count: int, seed: int) -> list[Clip]:
    """`count` animated clips of one photographed person, each with its own camera motion."""
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
                {"source": source, "motion": asdict(motion)},
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

    `groups` restricts the build to some of the roster's groups (the control clip is always
    included); an existing labels.csv is kept unless force is set.
    """
    out_dir = Path(out_dir)
    labels_path = out_dir / "labels.csv"
    if labels_path.exists() and not force:
        print(f"{labels_path} exists; skipping (use --force to rebuild)")
        return labels_path
    started = time.perf_counter()
    roster = load_roster()
    chosen = {g: roster.groups[g] for g in (groups or roster.groups)}
    people = [roster.people[m] for group in chosen.values() for m in group.members]
    needed = {roster.control} | {source for person in people for source in person.sources}
    paths = fetch_media(sorted(needed), cache_dir)
    clip_len = max(1, int(round(clip_seconds * FPS)))

    clips: dict[str, list[Clip]] = {}
    donors: dict[str, Donor] = {}
    for person in track(people, description="faces and clips"):
        identity = person.name
        if person.videos:
            clips[identity] = video_clips(person, paths, clip_len, max_clips_per_video)
            if not clips[identity]:
                raise RuntimeError(f"no clip with a face throughout for {identity}")
            first = clips[identity][0]
            middle = len(first.frames) // 2
            donors[identity] = Donor(identity, first.frames[middle], first.points[middle])
        else:
            donors[identity] = photo_donor(person, paths)
            clips[identity] = photo_clips(
                donors[identity], person.photo, clip_len, clips_per_photo, seed
            )

    rows: list[tuple[str, str, str, str, str, str]] = []
    fakes: dict[str, dict] = {}
    reals: dict[str, dict] = {}
    jobs = [
        (g.name, g.split, m, c, g.members[(g.members.index(m) + 1) % len(g.members)])
        for g in chosen.values()
        for m in g.members
        for c in clips[m]
    ]
    for group, split, identity, clip, donor_id in track(jobs, description="writing clips"):
        real = f"real/{clip.name}.mp4"
        write_video(out_dir / real, clip.frames)
        rows.append((real, "REAL", group, split, identity, "real"))
        reals[real] = {"identity": identity, "group": group, **clip.origin}
        blended, blend_params = self_blend_clip(clip.frames, clip.points, _seed(seed, clip.name, 1))
        sbi = f"fake/{clip.name}_sbi.mp4"
        write_video(out_dir / sbi, blended)
        rows.append((sbi, "FAKE", group, split, identity, "sbi"))
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
        rows.append((swap, "FAKE", group, split, f"{identity};{donor_id}", "swap"))
        fakes[swap] = {
            "method": "face_swap",
            "source_clip": real,
            "donor": donor_id,
            "group": group,
            "params": asdict(swap_params),
        }

    control = f"real/{roster.control}.mp4"
    write_video(out_dir / control, read_video(paths[roster.control])[:clip_len])
    rows.append((control, "REAL", "control", roster.control_split, "", "real"))
    reals[control] = {
        "identity": None,
        "group": "control",
        "source": roster.control,
        "note": "negative control without a human face; preparation should skip it (no_face)",
    }

    provenance = {
        "dfd_version": _dfd_version(),
        "seed": seed,
        "clip_seconds": clip_seconds,
        "fps": FPS,
        "groups": {g.name: {"split": g.split, "members": list(g.members)} for g in chosen.values()},
        "sources": {
            name: {**asdict(roster.media[name]), "sha256": _sha256(path)}
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
        f"clips, {len(people)} people in {len(chosen)} groups, "
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

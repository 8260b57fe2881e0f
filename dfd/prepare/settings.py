"""The ``prepare:`` block of the config, checked once up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dfd.prepare.decoders import DECODERS
from dfd.prepare.detectors import DETECTORS

FACE_MODES = ("largest", "all")
OUTPUTS = ("folders", "stream", "both")
# Settings that change what is written; a change means finished videos are prepared again.
OUTPUT_FIELDS = (
    "num_frames",
    "fps",
    "max_frames",
    "face_size",
    "margin",
    "detector",
    "min_face_prob",
    "min_face_size",
    "detect_size",
    "detect_every",
    "smooth_window",
    "faces",
    "max_faces",
    "min_track_fraction",
    "min_face_frames",
    "frame_folder_fps",
)


@dataclass(frozen=True)
class PrepareSettings:
    """How videos become face clips (see conf/prepare.yaml for each field's meaning).

    The defaults are conf/prepare.yaml's, repeated here for library callers and tests;
    tests/unit/test_settings_defaults.py keeps them equal."""

    num_frames: int = 8
    fps: float | None = None
    max_frames: int = 64
    face_size: int = 224
    margin: float = 0.3
    detector: str = "mtcnn"
    min_face_prob: float = 0.9
    min_face_size: int = 40
    detect_size: int | None = 640
    detect_every: int = 1
    smooth_window: int = 1
    faces: str = "largest"
    max_faces: int = 4
    min_track_fraction: float = 0.5
    min_face_frames: int = 2
    detect_batch: int = 16
    decoder: str = "pyav"
    frame_folder_fps: float = 25.0
    frame_memory_mb: int = 1024
    device: str = "auto"
    workers: int = 1
    shard: int = 0
    num_shards: int = 1
    force: bool = False
    output: str = "folders"
    stream_url: str | None = None
    stream_chunk: str = "64MB"

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(
                f"prepare.decoder must be one of {sorted(DECODERS)}, got {self.decoder!r}"
            )
        if self.output not in OUTPUTS:
            raise ValueError(f"prepare.output must be one of {OUTPUTS}, got {self.output!r}")
        if self.detector not in DETECTORS:
            raise ValueError(
                f"prepare.detector must be one of {sorted(DETECTORS)}, got {self.detector!r}"
            )
        if self.faces not in FACE_MODES:
            raise ValueError(f"prepare.faces must be one of {FACE_MODES}, got {self.faces!r}")
        if self.num_shards < 1 or not 0 <= self.shard < self.num_shards:
            raise ValueError(
                f"prepare.shard must be in [0, num_shards={self.num_shards}), got {self.shard}"
            )
        for name in (
            "num_frames",
            "max_frames",
            "face_size",
            "detect_every",
            "smooth_window",
            "max_faces",
            "min_face_frames",
            "detect_batch",
            "frame_memory_mb",
            "workers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"prepare.{name} must be at least 1, got {getattr(self, name)}")

    def output_fingerprint(self) -> dict[str, object]:
        """The settings that shape the output, stored with every finished video."""
        values = asdict(self)
        return {name: values[name] for name in OUTPUT_FIELDS}

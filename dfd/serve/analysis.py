"""One uploaded video through the same Predictor `dfd predict` uses, as the API's answer."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from dfd.inference.inputs import VideoInput
from dfd.inference.loading import LoadedDetector
from dfd.inference.predictor import Predictor
from dfd.inference.results import VideoResult
from dfd.serve.errors import ApiError

# preparation's reason codes for files that are no usable video; other failures are 422
REASON_STATUS = {"empty_file": 400, "unreadable": 415, "no_video_stream": 415}


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a model file (None for a folder)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as model:
        while block := model.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def model_version(detector: LoadedDetector) -> dict[str, Any]:
    """Which weights answer: file name, kind, its SHA-256 and what the checkpoint or sidecar
    records about them (config hash, dfd version, source checkpoint ...). Recorded paths are
    cut to their file names: clients learn which files, never where the server keeps them."""
    return {
        "name": detector.source.name,
        "kind": detector.kind,
        "sha256": file_sha256(detector.source),
        **{key: _file_name(value) for key, value in detector.spec.provenance.items()},
    }


def _file_name(value: Any) -> Any:
    """An absolute path's last part; any other value as it is."""
    return Path(value).name if isinstance(value, str) and Path(value).is_absolute() else value


class Analyzer:
    """Scores one video at a time with a loaded detector (thread-safe for scoring)."""

    def __init__(self, detector: LoadedDetector, device: str, batch_size: int | None) -> None:
        self.detector = detector
        self.device = device
        self.predictor = Predictor(detector, device=device, batch_size=batch_size, workers=1)
        self.version = model_version(detector)

    @property
    def num_frames(self) -> int:
        """Frames sampled per video: fixed by the preparation the detector was trained with."""
        return self.predictor.settings.num_frames

    def analyze(self, video: Path, workdir: Path, gradcam: bool) -> dict[str, Any]:
        """The answer for one video; ApiError when it cannot be scored (why, as a code)."""
        cam_dir = workdir / "gradcam" if gradcam else None
        ((_, result),) = self.predictor.predict(
            [VideoInput(video)], workdir / "crops", details=True, gradcam_dir=cam_dir
        )
        if not result.ok:
            code, _, text = result.reason.partition(":")
            raise ApiError(REASON_STATUS.get(code, 422), code, text.strip() or code)
        return self.response(result)

    def response(self, result: VideoResult) -> dict[str, Any]:
        """The scored result as the API returns it (without the id and times)."""
        return {
            "prediction": result.verdict,
            "fake_probability": result.fake_probability,
            "threshold": result.threshold,
            "faces": result.faces,
            "face_scores": result.face_scores,
            "frames_used": result.frames_used,
            "frames": result.frame_scores,
            "clips": result.clip_scores,
            "gradcam": [gradcam_png(Path(path)) for path in result.gradcam],
            "notes": list(result.notes),
            "model_version": self.version,
        }


def gradcam_png(path: Path) -> dict[str, str]:
    """A Grad-CAM overlay inline: its file name and the PNG as base64."""
    return {"name": path.name, "png_base64": base64.b64encode(path.read_bytes()).decode("ascii")}

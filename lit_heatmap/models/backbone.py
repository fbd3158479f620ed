"""A thin adapter over ``timm.create_model(..., features_only=True)``.

Any timm model that supports ``features_only`` works: CNNs (ResNet, ConvNeXt, EfficientNet, HRNet,
...) give several strides, ViTs give one (the patch size). The heads read ``channels`` and
``strides`` to size themselves, so configs never repeat those numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import timm
import torch
from torch import Tensor, nn

__all__ = ["Backbone", "load_pretrained_path"]

# keys under which training frameworks nest the weights (Lightning, MMPose/MMCV, timm train, DeiT, ...)
_NESTED_KEYS = ("state_dict", "model", "model_state", "module", "net", "backbone")
# prefixes stripped from checkpoint keys until they match the timm model's names
# (a lit_heatmap checkpoint's backbone is "backbone.body.<timm key>")
_PREFIXES = ("module.", "model.", "backbone.", "body.", "encoder.", "net.", "_orig_mod.")


class Backbone(nn.Module):
    """timm feature extractor exposing ``channels`` and ``strides`` of its outputs.

    Args:
        name: any timm model name that supports ``features_only`` (``timm.list_models()``).
        pretrained: download timm's pretrained weights (needs internet / the HF cache).
        pretrained_path: a local checkpoint (``.pth``/``.pt``/``.ckpt``/``.safetensors``) of the full timm
            classifier or of the feature extractor. Weights may be nested under ``state_dict`` /
            ``model`` and prefixed (``module.``, ``backbone.``, ...); classifier keys are dropped.
            Loading is strict: a missing or unexpected feature weight raises ``ValueError``.
        out_indices: which feature levels to return (timm's ``out_indices``); ``None`` = all levels.
        freeze_bn: keep every BatchNorm in eval mode with frozen affine parameters (small batches,
            fine-tuning).
        **timm_kwargs: passed to ``timm.create_model``, e.g. ``img_size=[256, 192]`` for a ViT, or
            ``feature_location=""`` for HRNet's raw branches. ViTs get ``dynamic_img_size=True``
            unless ``img_size`` is given, so any input size divisible by the patch size works.

    Shapes:
        forward: image ``(B, 3, H, W)`` -> list of ``(B, channels[i], H / strides[i], W / strides[i])``.
    """

    def __init__(
        self,
        name: str = "resnet18",
        pretrained: bool = False,
        pretrained_path: str | Path | None = None,
        out_indices: Sequence[int] | None = None,
        freeze_bn: bool = False,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        self.name = name
        self.freeze_bn = freeze_bn
        kwargs = dict(timm_kwargs)
        if out_indices is not None:
            kwargs["out_indices"] = tuple(int(i) for i in out_indices)
        if "img_size" in kwargs and kwargs["img_size"] is not None and not isinstance(kwargs["img_size"], int):
            # configs give sizes as lists; timm wants a tuple (h, w) for ViTs
            kwargs["img_size"] = tuple(int(s) for s in kwargs["img_size"])
        try:
            self.body = self._create(name, pretrained, kwargs)
        except (RuntimeError, AssertionError) as err:
            raise ValueError(
                f"Backbone(name={name!r}, {kwargs}): timm could not build a features_only model: {err}"
            ) from err
        self.channels: list[int] = [int(c) for c in self.body.feature_info.channels()]
        self.strides: list[int] = [int(s) for s in self.body.feature_info.reduction()]
        if pretrained_path:
            load_pretrained_path(self.body, pretrained_path)
        if freeze_bn:
            self._freeze_bn()

    @staticmethod
    def _create(name: str, pretrained: bool, kwargs: dict[str, Any]) -> nn.Module:
        base = name.split(".")[0]
        if not timm.is_model(base):
            raise ValueError(f"Backbone(name={name!r}): unknown timm model; see timm.list_models('*pattern*')")
        body = timm.create_model(name, pretrained=pretrained, features_only=True, **kwargs)
        vit = getattr(body, "model", body)
        fixed_size = getattr(getattr(vit, "patch_embed", None), "strict_img_size", False)
        if fixed_size and "img_size" not in kwargs and "dynamic_img_size" not in kwargs:
            # a ViT built for 224x224 only: rebuild it to accept any input size divisible by the patch
            body = timm.create_model(name, pretrained=pretrained, features_only=True, dynamic_img_size=True, **kwargs)
        return body

    def forward(self, x: Tensor) -> list[Tensor]:
        """Image ``(B, 3, H, W)`` -> feature maps, one per ``channels``/``strides`` entry."""
        return list(self.body(x))

    def _freeze_bn(self) -> None:
        for m in self.body.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
                for p in m.parameters():
                    p.requires_grad_(False)

    def train(self, mode: bool = True) -> Backbone:
        """Like ``nn.Module.train`` but keeps BatchNorm frozen when ``freeze_bn`` is set."""
        super().train(mode)
        if self.freeze_bn:
            self._freeze_bn()
        return self

    def extra_repr(self) -> str:
        return f"name={self.name!r}, channels={self.channels}, strides={self.strides}"


def _read_checkpoint(path: Path) -> Mapping[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"Backbone(pretrained_path={str(path)!r}): no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=False)
    for _ in range(3):  # unwrap {"state_dict": {...}} / {"model": {...}} nesting
        if isinstance(obj, Mapping):
            nested = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), Mapping)), None)
            if nested is not None and not all(isinstance(v, Tensor) for v in obj.values()):
                obj = nested
                continue
        break
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise ValueError(f"Backbone(pretrained_path={str(path)!r}): not a state dict (got {type(obj).__name__})")
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


def load_pretrained_path(body: nn.Module, path: str | Path) -> None:
    """Load a local checkpoint into a timm ``features_only`` model, strictly.

    Tries the keys as they are, then with common prefixes stripped, and also maps full-classifier
    names onto the feature wrapper (timm's ``FeatureListNet`` keeps names with ``.`` turned into ``_``
    for some families). Classifier/head weights the feature extractor lacks are ignored.

    Raises:
        ValueError: naming the missing and unexpected keys when the weights do not fit.
    """
    path = Path(path).expanduser()
    state = dict(_read_checkpoint(path))
    own = body.state_dict()
    own_keys = set(own)

    def candidates(key: str) -> list[str]:
        out = [key]
        for _ in range(3):  # strip up to three known prefixes, e.g. "module.backbone.body."
            out += [k[len(p) :] for k in out for p in _PREFIXES if k.startswith(p)]
        more = []
        for k in dict.fromkeys(out):  # FeatureListNet flattens nested names: "stages.0.x" -> "stages_0.x"
            parts = k.split(".")
            more += ["_".join(parts[:i]) + "." + ".".join(parts[i:]) for i in range(2, len(parts))]
            more.append("model." + k)  # FeatureGetterNet (ViT) wraps the model
        return list(dict.fromkeys(out)) + more

    mapped: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for key, value in state.items():
        hit = next((c for c in candidates(key) if c in own_keys), None)
        if hit is None:
            unexpected.append(key)
        else:
            mapped[hit] = value
    missing = [k for k in sorted(own_keys - set(mapped)) if not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(
            f"Backbone(pretrained_path={str(path)!r}) does not fit the timm model: {len(missing)} of its "
            f"{len(own_keys)} weights are missing from the checkpoint (e.g. {missing[:5]}); "
            f"{len(unexpected)} checkpoint keys matched nothing (e.g. {unexpected[:5]})"
        )
    for k, v in list(mapped.items()):
        if k.endswith("pos_embed") and v.shape != own[k].shape and v.ndim == 3:
            mapped[k] = _resample_pos_embed(body, v, own[k])
    shape_errors = [
        f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in mapped.items() if v.shape != own[k].shape
    ]
    if shape_errors:
        raise ValueError(
            f"Backbone(pretrained_path={str(path)!r}): shape mismatch for {len(shape_errors)} weights, "
            f"e.g. {shape_errors[:3]}"
        )
    # keys that matched nothing are the classifier's (fc, head, ...) which features_only drops
    body.load_state_dict(mapped, strict=False)


def _resample_pos_embed(body: nn.Module, pos: Tensor, like: Tensor) -> Tensor:
    """Resample a ViT absolute position embedding ``(1, P0 + N0, C)`` to the grid of ``like``."""
    from timm.layers import resample_abs_pos_embed

    vit = getattr(body, "model", body)
    grid = tuple(vit.patch_embed.grid_size)
    prefix = 0 if getattr(vit, "no_embed_class", False) else int(getattr(vit, "num_prefix_tokens", 1))
    return resample_abs_pos_embed(pos, new_size=list(grid), num_prefix_tokens=prefix)

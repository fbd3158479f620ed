"""Run by ``test_metrics_ddp.py``: validate a tiny LightningModule with strategy="ddp" on 2 CPU processes.

Every validation sample feeds the metrics: one tensor sample for PCK / NME / EPE / MeanOKS / PCKAUC
and one COCO item (a GT instance or a detection, top-down style, so one image's instances land on
both ranks). Rank 0 writes the synced ``compute()`` results to the JSON path given as argv[1].
Usage (from the repository root): python -m tests.metrics.metrics_ddp_script OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from tests.metrics.metrics_coco_oracle import random_case

N_TENSOR = 24  # tensor samples; the dataset length is max(N_TENSOR, #COCO items), padded with None


def build_items(seed: int = 0) -> list[dict]:
    """Deterministic list of samples (identical in every process)."""
    rng = np.random.default_rng(seed)
    gt, dets = [], []
    for case in range(3):
        g, d = random_case(np.random.default_rng(seed + 100 + case))
        off = 1_000_000 * (case + 1)
        for a in g["annotations"]:
            gt.append(
                {
                    "image_id": a["image_id"] + off,
                    "keypoints": torch.tensor(a["keypoints"], dtype=torch.float64).reshape(1, 17, 3),
                    "area": torch.tensor([a["area"]], dtype=torch.float64),
                    "bbox": torch.tensor([a["bbox"]], dtype=torch.float64),
                    "iscrowd": torch.tensor([a["iscrowd"]]),
                }
            )
        for x in d:  # unique scores: tie order inside an image would depend on the rank layout
            dets.append(
                {
                    "image_id": x["image_id"] + off,
                    "keypoints": torch.tensor(x["keypoints"], dtype=torch.float64).reshape(1, 17, 3),
                    "scores": torch.tensor([x["score"] + 1e-9 * len(dets)], dtype=torch.float64),
                }
            )
    coco = [("gt", g) for g in gt] + [("det", d) for d in dets]
    order = rng.permutation(len(coco))
    coco = [coco[i] for i in order]
    n = max(N_TENSOR, len(coco))
    n += n % 2  # divisible by the world size: DistributedSampler adds no duplicates
    items = []
    for i in range(n):
        k = 98
        target = torch.from_numpy(rng.uniform(0, 200, (1, k, 2)))
        preds = target + torch.from_numpy(rng.normal(0, 6, (1, k, 2)))
        vis = torch.from_numpy((rng.random((1, k)) < 0.9).astype(np.float64))
        vis[:, [5, 12, 60, 72]] = 1
        items.append(
            {
                "tensor": i < N_TENSOR,
                "preds": preds,
                "target": target,
                "visibility": vis,
                "bbox": torch.tensor([[0.0, 0.0, 150.0 + i, 180.0]], dtype=torch.float64),
                "norm": torch.tensor([50.0 + i], dtype=torch.float64),
                "area": torch.tensor([20000.0 + 100 * i], dtype=torch.float64),
                "subsets": torch.from_numpy(rng.random((1, 6)) < 0.5),
                "coco": coco[i] if i < len(coco) else None,
            }
        )
    return items


def make_metrics() -> dict:
    from lit_heatmap.metrics import EPE, NME, PCK, PCKAUC, KeypointAP, MeanOKS

    sig = [0.05] * 98
    return {
        "PCK": PCK(0.05, "bbox"),
        "PCK_torso": PCK(0.5, "torso", average="micro"),
        "AUC": PCKAUC(),
        "NME": NME(),
        "EPE": EPE(),
        "OKS": MeanOKS(sigmas=sig),
        "AP": KeypointAP(),
    }


def feed(metrics: dict, item: dict) -> None:
    """Update every metric with one sample (used by the DDP module and the single-process reference)."""
    if item["tensor"]:
        kw = {key: item[key] for key in ("bbox", "norm", "area", "subsets")}
        for name, m in metrics.items():
            if name != "AP":
                m.update(item["preds"], item["target"], item["visibility"], **kw)
    if item["coco"] is not None:
        kind, d = item["coco"]
        metrics["AP"].update([d], []) if kind == "det" else metrics["AP"].update([], [d])


def results(metrics: dict) -> dict:
    out = {}
    for name, m in metrics.items():
        v = m.compute()
        if isinstance(v, dict):
            out.update({f"{name}/{key}": float(x) for key, x in v.items()})
        else:
            out[name] = float(v)
    return out


def main(out_path: str) -> None:
    import lightning as L
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    items = build_items()

    class Tiny(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.metrics = torch.nn.ModuleDict(make_metrics())
            self.seen = 0

        def validation_step(self, batch: list[int], batch_idx: int) -> None:
            for i in batch:
                feed(self.metrics, items[int(i)])
                self.seen += 1

        def on_validation_epoch_end(self) -> None:
            res = results(self.metrics)  # torchmetrics syncs the states across ranks here
            res["seen_on_this_rank"] = self.seen
            if self.trainer.is_global_zero:
                res["world_size"] = self.trainer.world_size
                Path(out_path).write_text(json.dumps(res))

    loader = DataLoader(list(range(len(items))), batch_size=4, shuffle=False, collate_fn=lambda b: b)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.validate(Tiny(), dataloaders=loader, verbose=False)


if __name__ == "__main__":
    main(sys.argv[1])

"""Read an offline W&B run log (``<run dir>/wandb/offline-run-*/run-<id>.wandb``) with W&B's own record
definitions (``wandb.proto.wandb_internal_pb2.Record``).

The file is W&B's LevelDB-style log: a 7-byte header (``:W&B``, magic 0xBEE1, version 0) and then records
in 32 KiB blocks, each chunk ``crc32c (4) | length (2, little endian) | type (1) | data``, a record split
over blocks as FIRST / MIDDLE / LAST chunks. W&B's Python package no longer ships a reader (the service
that writes it is in Go), so this is the few lines needed to replay it.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

HEADER = 7
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Any]:
    """Every protobuf ``Record`` of the log, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run log"
    out, pending, pos = [], b"", HEADER
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:  # zero padding
            continue
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            out.append(wandb_internal_pb2.Record.FromString(pending))
    return out


def run_record(path: Path, timeout: float = 60) -> dict[str, Any]:
    """The run's ``display_name``, ``run_group``, ``job_type`` and config (``{key: value}``, the config
    updates merged) as written offline; waits while W&B's service is still writing the file."""
    deadline = time.monotonic() + timeout
    while True:
        recs = records(path)
        exits = [r for r in recs if r.WhichOneof("record_type") == "exit"]
        if exits or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    run = next(r.run for r in recs if r.WhichOneof("record_type") == "run")
    config: dict[str, Any] = {}
    for r in recs:
        kind = r.WhichOneof("record_type")
        items = r.run.config.update if kind == "run" else r.config.update if kind == "config" else []
        for item in items:
            config[item.key] = json.loads(item.value_json)
    return {"name": run.display_name, "group": run.run_group, "job_type": run.job_type, "config": config}

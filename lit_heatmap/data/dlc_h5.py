"""DeepLabCut ``CollectedData_*.h5`` label files, read (with pandas + PyTables) as the rows of their CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .validation import BadSampleError

__all__ = ["h5_reader", "h5_rows"]


def h5_reader() -> Callable[..., Any] | None:
    """``pandas.read_hdf`` when pandas and PyTables are installed, else None."""
    try:
        import pandas as pd
        import tables  # noqa: F401 - read_hdf needs it
    except ImportError:
        return None
    return pd.read_hdf


def h5_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The rows of a DeepLabCut ``.h5`` label file as they would be in its CSV (``DataFrame.to_csv``)."""
    read_hdf = h5_reader()
    try:
        df = read_hdf(path)
        df.index.names = [None] * df.index.nlevels  # no index-name row in the CSV text
        text = df.to_csv()
    except Exception as err:  # noqa: BLE001 - any reader error: an unreadable file, named
        raise BadSampleError(f"{path}: not a readable DeepLabCut .h5 label file ({err})") from err
    reader = csv.reader(io.StringIO(text))
    return [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]

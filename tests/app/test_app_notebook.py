"""notebooks/prototyping.ipynb executes top to bottom (what nbmake does, via nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "prototyping.ipynb"


@pytest.mark.slow
def test_prototyping_notebook_executes(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = {
        i: "".join(o.get("text", "") for o in c.get("outputs", []))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    }
    text = "\n".join(outputs.values())
    # the decoder comparison ran and printed both errors
    assert "argmax  mean error" in text and "dark    mean error" in text
    figures = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "display_data"
    ]
    assert len(figures) == 3  # targets, predictions + heatmaps, error histogram
    assert "2D target (8, 14, 16, 16)" in text and "SimCC x (8, 14, 128)" in text

"""notebooks/explore.ipynb runs headless on a real output and is committed without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"


def test_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("which", ["pipeline_out", "enriched_out"])
def test_notebook_executes(which, request, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    out = request.getfixturevalue(which)
    monkeypatch.setenv("CURATE_OUTPUT", out)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"output: {os.path.abspath(out)}" in text
    assert images >= 1  # the histograms
    assert "new threshold" in text
    if which == "enriched_out":
        assert "'luma_mean'" in text.split('scores:')[1].splitlines()[0] and "caption_brief" in text
        assert any("bikes clip" in o.get("data", {}).get("text/html", "")
                   for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert "too_dark" in text

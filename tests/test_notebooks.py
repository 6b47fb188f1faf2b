"""Every notebook executes top to bottom (small settings) and shows its figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

# notebook -> PNG figures it must show
FIGURES = {
    "01_quickstart": 1,
    "02_paper_reinforcement": 2,
    "03_paper_digits": 4,
    "04_type_a_vs_b": 4,
    "05_varied_screens": 2,
    "06_ablations": 3,
    "07_growing_memory": 5,
}
SOURCES = sorted((NOTEBOOKS / "src").glob("*.py"))


def pngs(notebook) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_every_notebook_has_a_source():
    assert [s.stem for s in SOURCES] == sorted(FIGURES)


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_notebook_executes_with_small_settings(source, tmp_path):
    path = build.build(source, tmp_path, small=True, timeout=600)
    notebook = nbformat.read(path, as_version=4)
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    assert pngs(notebook) >= FIGURES[source.stem]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_committed_notebook_is_executed_current_and_small(source):
    path = NOTEBOOKS / f"{source.stem}.ipynb"
    assert path.exists(), "run `make notebooks` and commit the result"
    assert path.stat().st_size < 2 * 2**20
    notebook = nbformat.read(path, as_version=4)
    expected = [c.source for c in build.parse_cells(source.read_text())]
    assert [c.source for c in notebook.cells] == expected, "notebook is stale: make notebooks"
    assert pngs(notebook) >= FIGURES[source.stem]


def test_parse_cells():
    cells = build.parse_cells("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n")
    assert [c.cell_type for c in cells] == ["markdown", "code"]
    assert cells[0].source == "# Title\ntext" and cells[1].source == "x = 1"

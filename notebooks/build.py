"""Build the notebooks from their sources and execute them: ``python notebooks/build.py``.

Each notebook's source is ``notebooks/src/NN_name.py`` in the "percent" format (``# %%`` starts
a code cell, ``# %% [markdown]`` a Markdown cell whose lines are ``# ``-commented). The build
turns it into ``notebooks/NN_name.ipynb``, executes it top to bottom (matplotlib's inline
backend, figures as PNG) and writes the executed notebook, so readers see the grids without
running anything. ``MAN_RL_SMALL=1`` makes every notebook use tiny settings (the test suite
does that).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"


def parse_cells(text: str) -> list[nbformat.NotebookNode]:
    """Cells of a percent-format source."""
    cells: list[nbformat.NotebookNode] = []
    kind, lines = None, []

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(source: Path, out_dir: Path, *, small: bool, timeout: int = 900) -> Path:
    """Execute ``source`` into ``out_dir / <name>.ipynb``; returns the path written."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = parse_cells(source.read_text())
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    env_before = os.environ.get("MAN_RL_SMALL")
    os.environ["MAN_RL_SMALL"] = "1" if small else "0"
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(out_dir)}},
        ).execute()
    finally:
        if env_before is None:
            os.environ.pop("MAN_RL_SMALL", None)
        else:
            os.environ["MAN_RL_SMALL"] = env_before
    out = out_dir / f"{source.stem}.ipynb"
    tmp = out.with_suffix(".ipynb.tmp")
    nbformat.write(notebook, tmp)
    os.replace(tmp, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    parser.add_argument("--small", action="store_true", help="tiny settings")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the .ipynb files")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.glob("*.py"))
    if args.names:
        sources = [s for s in sources if any(s.stem.startswith(n) for n in args.names)]
    for source in sources:
        path = build(source, args.out, small=args.small)
        print(f"built {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The report page of a memory: one offline HTML page to look at and share (``man-rl report``).

:func:`write_report` writes ``OUT/index.html``: the memory's summary (states, frames per state
as a histogram, frame shape, file version), the recall grid where the keys have a layout,
and every state, searchable by key and paged, its real screens beside recalled samples with
the strict judge's figures, the worst-recalled states first (:mod:`.content`). Pictures are
small PNGs beside the page or inside it (:mod:`.images`); :mod:`.page` writes it all.

Example:
    >>> import numpy as np, tempfile
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=2)
    >>> stm.add("a", np.zeros((4, 4), np.uint8)); stm.add("b", np.ones((4, 4), np.uint8))
    >>> result = write_report(tempfile.mkdtemp(), stm, embed=True)
    >>> result.states, result.assets, "data:image/png;base64," in result.page.read_text()
    (2, None, True)
"""

from man_rl.report.page import PAGE_SIZES, ReportResult, grid_layout, write_report

__all__ = ["PAGE_SIZES", "ReportResult", "grid_layout", "write_report"]

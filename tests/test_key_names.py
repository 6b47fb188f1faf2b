"""Keys people can read: short names, cell keys drawn as their grey cells, RAM keys named."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.browser import dump_dom, find_chromium, page_url, root_data
from man_rl import ShortTermMemory
from man_rl.envs import CellKey
from man_rl.envs.atari import BREAKOUT_KEY, MS_PACMAN_KEY
from man_rl.key_names import cell_levels, cell_picture, display_key, is_cell_key
from man_rl.layout import flat_layout
from man_rl.plotting import recall_grid
from man_rl.report import write_report
from tests.test_report import page_data

ATARI_CELL_KEY = "/".join(["00000000000"] * 3 + ["00017710000"] + ["00000000000"] * 4)


def test_short_keys_are_shown_as_they_are_and_long_ones_shortened_apart():
    assert display_key((3, 1, 0)) == "(3, 1, 0)" and display_key("hall") == "'hall'"
    first, second = "a" * 60 + "1", "a" * 60 + "2"
    assert len(display_key(first)) <= 28 + 1
    assert display_key(first) != display_key(second)  # same start, told apart by the digest
    assert display_key(first) == display_key("a" * 60 + "1")  # stable


def test_a_cell_key_is_named_by_its_size_and_drawn_as_its_cells():
    assert len(ATARI_CELL_KEY) == 95
    assert display_key(ATARI_CELL_KEY).startswith("cells 11x8 #")
    picture = cell_picture(ATARI_CELL_KEY, levels=8)
    assert picture.shape == (8, 11) and picture.dtype == np.uint8
    assert picture[3].tolist() == [0, 0, 0, 36, 255, 255, 36, 0, 0, 0, 0]
    assert picture[[0, 1, 2, 4, 5, 6, 7]].max() == 0
    # the key a CellKey gives a frame draws that frame's cells
    frame = np.zeros((80, 110, 3), np.uint8)
    frame[40:50, 50:60] = 255
    key = CellKey()(None, frame, {})
    drawn = cell_picture(key, levels=8)
    assert drawn.argmax() == np.ravel_multi_index((4, 5), (8, 11)) and drawn.max() == 255


@pytest.mark.parametrize("key", ["kitchen", "a/b", "01/012", "0A/00", (1, 2), 7, "ab/c!"])
def test_other_keys_are_not_taken_for_cell_keys(key):
    assert not is_cell_key(key) and cell_picture(key) is None


def test_cell_pictures_of_one_grid_share_one_grey_scale():
    keys = ["00/03", "00/07", "kitchen"]
    assert cell_levels(keys) == 8
    assert cell_picture("00/03", 8).max() < cell_picture("00/07", 8).max() == 255


def test_ram_keys_are_named_by_what_they_measure():
    assert BREAKOUT_KEY.layout().name(4) == "paddle x 4/7"
    assert MS_PACMAN_KEY.layout().name((3, 2)) == "x 3/8, y 2/7"
    assert flat_layout([(9, 9)]).name((9, 9)) == "(9, 9)"  # no name given: the key itself


def test_a_plain_grid_captions_every_cell_with_its_key_and_cells():
    keys = [ATARI_CELL_KEY, ATARI_CELL_KEY.replace("177", "771"), "kitchen"]
    frames = {k: np.full((2, 12, 12), 40 * i, np.uint8) for i, k in enumerate(keys)}
    fig = recall_grid(frames, flat_layout(keys, columns=2))
    texts = [t.get_text() for t in fig.texts]
    for key in keys:
        assert display_key(key) in " ".join(texts).replace("\n", " "), key
    pictures = [ax for ax in fig.axes if ax.get_label() == "caption picture"]
    assert len(pictures) == 2  # the two cell keys; "kitchen" has no picture
    assert {ax.images[0].get_array().shape for ax in pictures} == {(8, 11)}
    # a grid whose rows and columns mean something keeps its labels, no captions
    structured = BREAKOUT_KEY.layout()
    fig = recall_grid({4: np.zeros((12, 12), np.uint8)}, structured)
    assert not [ax for ax in fig.axes if ax.get_label() == "caption picture"]
    assert "paddle x (RAM[72] // 24)" in [t.get_text() for t in fig.texts]


def cell_memory() -> ShortTermMemory:
    memory = ShortTermMemory(capacity=2)
    memory.key_settings = CellKey().settings()
    for i, key in enumerate([ATARI_CELL_KEY, ATARI_CELL_KEY.replace("177", "771")]):
        memory.add(key, np.full((16, 16), 60 * i, np.uint8))
    return memory


def test_the_report_names_keys_and_draws_cell_keys(tmp_path):
    states = page_data(write_report(tmp_path / "cells", cell_memory()).page)["states"]
    assert [s["d"] for s in states] == [display_key(k) for k in cell_memory().keys]
    assert all((tmp_path / "cells" / s["kp"]).is_file() for s in states)
    memory = ShortTermMemory(capacity=2)
    memory.add(4, np.zeros((6, 6), np.uint8))
    ram = write_report(tmp_path / "ram", memory, layout=BREAKOUT_KEY.layout()).page
    (state,) = page_data(ram)["states"]
    assert state["d"] == "paddle x 4/7" and state["k"] == "4" and "kp" not in state


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium")
def test_the_report_shows_a_cell_keys_picture_and_finds_it_by_name(tmp_path):
    page = write_report(tmp_path, cell_memory()).page
    dom, _ = dump_dom(page_url(page))
    assert dom.count('class="key-picture"') == 2 and "cells 11x8 #" in dom
    name = display_key(ATARI_CELL_KEY)
    dom, _ = dump_dom(page_url(page, q=name))
    assert root_data(dom)["matches"] == "1"

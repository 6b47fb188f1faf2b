"""``man-rl report``: the page's content, and the page itself in a real (headless) browser."""

from __future__ import annotations

import html
import itertools
import json
import re

import numpy as np
import pytest

from benchmarks.browser import blank_share, dump_dom, find_chromium, page_url, root_data
from benchmarks.browser import screenshot as take_screenshot
from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.report import write_report
from man_rl.report.images import thumbnails
from man_rl.report.summary import histogram

needs_browser = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium (make install adds it where apt-get exists)"
)


def grid_memory(xs=25, ys=10, dirs=4, seed=0) -> ShortTermMemory:
    """``xs * ys * dirs`` states ``(x, y, d)``, 1-3 frames each, colours telling them apart."""
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=3)
    for x in range(xs):
        for y in range(ys):
            for d in range(dirs):
                colour = np.array([10 * x, 25 * y, 60 * d])
                for _ in range(1 + (x + y + d) % 3):
                    noise = rng.integers(0, 20, (8, 8, 3))
                    stm.add((x, y, d), np.clip(colour + noise, 0, 255).astype(np.uint8))
    return stm


def page_data(page) -> dict:
    text = page.read_text()
    match = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text)
    assert match is not None
    return json.loads(match.group(1))


def cards(dom: str) -> list[str]:
    return [html.unescape(k) for k in re.findall(r'<article class="state" data-key="([^"]*)"', dom)]


@pytest.fixture(scope="module")
def big_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("big_report")
    stm = grid_memory()
    assert stm.num_keys == 1000
    return write_report(out, stm), stm


def test_a_1000_state_report_lists_every_state_with_small_pictures(big_report):
    result, stm = big_report
    data = page_data(result.page)
    assert result.states == len(data["states"]) == 1000 and not data["has_figures"]
    assert [s["k"] for s in data["states"]] == [repr(k) for k in stm.keys]
    assert [s["n"] for s in data["states"]] == [stm.counts()[k] for k in stm.keys]
    pictures = sorted(result.assets.iterdir())
    assert len(pictures) == 1000  # one strip of real frames per state, no grid (1000 > 400)
    assert not result.grid and "recall grid is left out" in result.page.read_text()
    assert max(p.stat().st_size for p in pictures) < 4096
    first = result.page.parent / data["states"][0]["r"]
    assert first.read_bytes()[1:4] == b"PNG"


def test_the_page_fetches_nothing_from_the_network(big_report):
    text = big_report[0].page.read_text()
    assert "<link" not in text and "<script src" not in text
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}


@needs_browser
def test_the_1000_state_page_opens_in_chromium_and_finds_a_state(big_report, tmp_path):
    result, stm = big_report
    dom, seconds = dump_dom(page_url(result.page))
    root = root_data(dom)
    print(f"1000-state page: load event at {root['ready-ms']} ms; browser run {seconds:.2f} s")
    assert root["matches"] == "1000" and root["cards"] == "50" and root["page"] == "1"
    assert root["images-shown"] == root["images-decoded"] == "50"
    assert cards(dom) == [repr(k) for k in stm.keys[:50]]
    assert "1000 states" in dom

    dom, _ = dump_dom(page_url(result.page, q="(7, 3, 2)"))
    root = root_data(dom)
    assert (root["matches"], root["cards"], root["images-decoded"]) == ("1", "1", "1")
    assert cards(dom) == ["(7, 3, 2)"]
    assert "1 of 1000 states match" in dom

    dom, _ = dump_dom(page_url(result.page, q="(7, 3,"))  # a prefix: the state's 4 directions
    assert cards(dom) == [f"(7, 3, {d})" for d in range(4)]
    dom, _ = dump_dom(page_url(result.page, q="no such state"))
    assert root_data(dom)["matches"] == "0" and cards(dom) == []

    dom, _ = dump_dom(page_url(result.page, order="most", size="25", page="40"))
    most = sorted(stm.keys, key=lambda k: (-stm.counts()[k], stm.keys.index(k)))
    assert root_data(dom)["page"] == "40" and cards(dom) == [repr(k) for k in most[975:]]

    shot = take_screenshot(page_url(result.page), tmp_path / "page.png")
    assert blank_share(shot) < 0.9


def test_the_blank_check_sees_a_blank_picture(tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 48), "white").save(tmp_path / "white.png")
    assert blank_share(tmp_path / "white.png") == 1.0  # the screenshot check's control


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from man_rl.evaluation import train_judge

    folder = tmp_path_factory.mktemp("report_model")
    stm = grid_memory(xs=3, ys=2, dirs=1, seed=1)
    stm.save(folder / "stm.manrl")
    argv = ["train", "--memory", str(folder / "stm.manrl"), "--model", "B", "--steps", "3"]
    assert main([*argv, "--out", str(folder / "ltm.manrl"), "--quiet"]) == 0
    train_judge(stm, steps=20, seed=0).save(folder / "judge.manrl")
    return folder


def test_with_a_model_each_state_has_the_judges_figures_worst_first(model_files, capsys):
    from man_rl.evaluation import Judge, judge_samples, recall_all
    from man_rl.ltm import load_model

    out = model_files / "page"
    argv = ["report", "--memory", str(model_files / "stm.manrl"), "--out", str(out)]
    argv += ["--model", str(model_files / "ltm.manrl"), "--judge", str(model_files / "judge.manrl")]
    assert main([*argv, "--n", "4", "--seed", "3"]) == 0
    assert "reported 6 states, 6 judged, recall grid; open" in capsys.readouterr().out

    stm = ShortTermMemory.load(model_files / "stm.manrl")
    judge, model = Judge.load(model_files / "judge.manrl"), load_model(model_files / "ltm.manrl")
    recalled = recall_all(model, stm.keys, 4, seed=3)
    expected = judge_samples(judge, recalled, stm, seed=3)
    data = page_data(out / "index.html")
    assert data["has_figures"]
    assert [s["k"] for s in data["states"]] == [repr(s.key) for s in expected.worst(6)]
    for state, figures in zip(data["states"], expected.worst(6), strict=True):
        assert state["f"]["accuracy"] == figures.accuracy
        assert state["f"]["fidelity"] == figures.fidelity
        assert state["f"]["held_out_frames"] == figures.held_out_frames
        assert (out / state["g"]).is_file() and state["gn"] == 4
    accuracies = [s["f"]["accuracy"] for s in data["states"]]
    assert accuracies == sorted(accuracies)
    text = (out / "index.html").read_text()
    assert f"<td>{expected.ceiling:.3f}</td>" in text  # the judge's ceiling in the summary
    assert (out / data["states"][0]["g"]).parent.joinpath("grid.png").is_file()


@needs_browser
def test_the_model_page_shows_figures_and_recalled_frames_in_chromium(model_files):
    out = model_files / "page_browser"
    argv = ["report", "--memory", str(model_files / "stm.manrl"), "--out", str(out)]
    assert main([*argv, "--model", str(model_files / "ltm.manrl"), "--judge-steps", "10"]) == 0
    dom, _ = dump_dom(page_url(out / "index.html"))
    root = root_data(dom)
    assert root["cards"] == "6" and root["images-shown"] == root["images-decoded"] == "12"
    assert dom.count('<table class="figures">') == 6
    assert 'alt="recall grid"' in dom
    # the summary's figures explain themselves on hover (the glossary's line)
    assert 'class="explained" title="fidelity: distance of each recalled screen' in dom


def test_grid_from_an_env_layout_and_none_for_keys_without_one(tmp_path, capsys):
    stm = ShortTermMemory(capacity=2)
    for key in [(1, 1, 0), (2, 1, 0), (3, 3, 1)]:
        stm.add(key, np.zeros((5, 5, 3), np.uint8))
    stm.save(tmp_path / "stm.manrl")
    argv = ["report", "--memory", str(tmp_path / "stm.manrl"), "--out", str(tmp_path / "a")]
    assert main([*argv, "--env", "MiniGrid-Empty-5x5-v0"]) == 0
    assert "recall grid" in capsys.readouterr().out
    named = ShortTermMemory(capacity=2)
    named.add("kitchen", np.zeros((5, 5), np.uint8))
    named.add("hall", np.ones((5, 5), np.uint8))
    assert not write_report(tmp_path / "b", named).grid
    assert not write_report(tmp_path / "c", stm, grid=False).grid


def test_rewriting_a_report_replaces_its_pictures_and_keeps_other_files(tmp_path):
    stm = grid_memory(xs=2, ys=2, dirs=1)
    (tmp_path / "notes.txt").write_text("mine")
    first = write_report(tmp_path, stm)
    second = write_report(tmp_path, stm)
    assert first.assets != second.assets and not first.assets.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["index.html", "notes.txt", second.assets.name]
    )
    embedded = write_report(tmp_path, stm, embed=True)
    assert embedded.assets is None and not second.assets.exists()
    assert embedded.page.read_text().count("data:image/png;base64,") == 4 + 1  # + grid


def test_keys_cannot_break_out_of_the_page(tmp_path):
    stm = ShortTermMemory(capacity=2)
    stm.add("</script><b>x</b>", np.zeros((4, 4), np.uint8))
    stm.add('"quoted" & <tag>', np.ones((4, 4), np.uint8))
    page = write_report(tmp_path, stm, title="<i>t</i>").page
    text = page.read_text()
    assert "</script><b>" not in text and "<i>t</i>" not in text
    assert [s["k"] for s in page_data(page)["states"]] == [repr(k) for k in stm.keys]


def test_bad_input_is_a_clear_error(tmp_path, model_files, capsys):
    stm = grid_memory(xs=2, ys=1, dirs=1)
    with pytest.raises(InvalidValueError, match="page_size"):
        write_report(tmp_path, stm, page_size=30)
    with pytest.raises(InvalidValueError, match="samples"):
        write_report(tmp_path, stm, samples=0)
    with pytest.raises(EmptyMemoryError):
        write_report(tmp_path, ShortTermMemory(capacity=2))
    other = ShortTermMemory(capacity=2)
    other.add("elsewhere", np.zeros((8, 8, 3), np.uint8))
    other.add("there", np.ones((8, 8, 3), np.uint8))
    from man_rl.ltm import load_model

    with pytest.raises(InvalidValueError, match="knows none"):
        write_report(tmp_path, other, model=load_model(model_files / "ltm.manrl"))
    assert main(["report", "--memory", str(tmp_path / "none.manrl"), "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_histogram_bars_cover_every_state():
    counts = np.arange(1, 101)
    bars = histogram(counts)
    assert len(bars) <= 30 and sum(n for _, _, n in bars) == 100
    assert bars[0][0] == 1 and bars[-1][1] == 100
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(bars))
    assert histogram(np.array([2, 2, 5])) == [(2, 2, 2), (3, 3, 0), (4, 4, 0), (5, 5, 1)]


def test_thumbnails_average_blocks_and_keep_small_frames():
    frames = np.zeros((1, 4, 4), np.uint8)
    frames[0, :2, :2] = 200
    assert thumbnails(frames, 4) is not None and thumbnails(frames, 4).shape == (1, 4, 4)
    small = thumbnails(frames, 2)
    assert small.tolist() == [[[200, 0], [0, 0]]]
    grey = thumbnails(np.full((2, 210, 160, 1), 7, np.uint8), 64)
    assert grey.shape == (2, 53, 40) and (grey == 7).all()


def test_a_title_or_key_holding_a_template_marker_is_written_as_it_is(tmp_path):
    memory = ShortTermMemory(capacity=2)
    memory.add("@SUMMARY@", np.zeros((4, 4), np.uint8))
    page = write_report(tmp_path, memory, title="@GRID@ and @DATA@").page
    text = page.read_text()
    assert "<title>@GRID@ and @DATA@</title>" in text
    assert text.count('<script id="report-data"') == 1  # @DATA@ filled once, where it sits
    assert page_data(page)["states"][0]["k"] == "'@SUMMARY@'"
    assert text.count('<table class="facts">') == 1  # the summary, once

"""``man-rl info`` and :func:`man_rl.fileinfo.describe`: the facts, and damage in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import CorruptFileError
from man_rl.fileinfo import CHECKPOINT_KIND, JUDGE_KIND, describe


def memory() -> ShortTermMemory:
    stm = ShortTermMemory(capacity=5, eviction="fifo")
    rng = np.random.default_rng(0)
    for key, n in [((1, 1, 0), 5), ((2, 1, 0), 2), ("goal", 1)]:
        for _ in range(n + 2):  # two more than held where the queue is full
            stm.add(key, rng.integers(0, 255, (9, 7, 3), dtype=np.uint8))
    return stm


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("info")
    memory().save(folder / "stm.manrl")
    argv = ["train", "--memory", str(folder / "stm.manrl"), "--model", "A", "--steps", "2"]
    assert main([*argv, "--out", str(folder / "ltm.manrl"), "--quiet"]) == 0
    return folder


def test_the_kinds_named_here_are_the_writers_kinds():
    from man_rl.evaluation.judge import KIND
    from man_rl.ltm.checkpoint import FILE_KIND

    assert (CHECKPOINT_KIND, JUDGE_KIND) == (FILE_KIND, KIND)


def test_info_of_a_memory_file(files, capsys):
    assert main(["info", str(files / "stm.manrl")]) == 0
    out = capsys.readouterr().out
    first, *facts = out.splitlines()
    assert "short-term memory file (format 1, man_rl " in first and "checksum ok" in first
    assert "  states: 3" in facts
    # 7, 4 and 3 frames added to queues of capacity 5: 5, 4 and 3 held
    assert "  frames held: 12" in facts and "  frames seen: 14" in facts
    assert "  frames per state: min=3, median=4, max=5" in facts
    assert "  frame shape: 9 x 7 x 3" in facts
    assert "  capacity: 5" in facts and "  eviction: fifo" in facts
    assert "  keys: (1, 1, 0), (2, 1, 0), 'goal'" in facts


def test_info_json_of_a_memory_file(files, capsys):
    assert main(["info", "--json", str(files / "stm.manrl")]) == 0
    info = json.loads(capsys.readouterr().out)
    stm = ShortTermMemory.load(files / "stm.manrl")
    assert info["kind"] == "short_term_memory"
    assert info["facts"]["states"] == len(stm.keys)
    assert info["facts"]["frames_held"] == len(stm)
    assert info["facts"]["frames_seen"] == sum(stm.seen().values())
    assert info["arrays"]["frames"] == {"dtype": "uint8", "shape": [len(stm), 9, 7, 3]}


def test_info_of_a_checkpoint(files, capsys):
    from man_rl.ltm import load_model

    assert main(["info", str(files / "ltm.manrl")]) == 0
    out = capsys.readouterr().out
    model = load_model(files / "ltm.manrl")
    assert "long-term memory checkpoint (format 1" in out.splitlines()[0]
    assert "  model: TypeA" in out
    assert "  states: 3" in out
    assert "  frame shape: 9 x 7 x 3" in out
    assert f"  weights: {sum(v.numel() for v in model.state_dict().values())}" in out
    assert "  training step: 2" in out
    assert f"latent_dim={model.config.latent_dim}" in out


def test_info_of_a_judge_and_a_storage_folder(files, tmp_path):
    from man_rl.evaluation import train_judge

    stm = ShortTermMemory.load(files / "stm.manrl")
    judge = train_judge(stm, steps=5, seed=0)
    judge.save(tmp_path / "judge.manrl")
    info = describe(tmp_path / "judge.manrl")
    assert info.kind == "judge" and info.facts["states"] == 3
    assert info.facts["ceiling"] == judge.ceiling
    assert info.facts["held_out_frames"] == int(judge.split.held_out.sum()) > 0

    with ShortTermMemory(5, storage=tmp_path / "folder") as disk:
        disk.merge(stm)
        disk.flush()
    info = describe(tmp_path / "folder")
    assert info.title == "short-term memory storage folder"
    assert info.facts["frames_held"] == len(stm) and info.facts["storage_version"] == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_damaged_file_is_one_line_and_exit_2(files, tmp_path, capsys, damage):
    data = bytearray((files / "stm.manrl").read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "garbage":
        data = bytearray(b"not a man_rl file at all" * 10)
    else:
        data = bytearray()
    bad = tmp_path / "bad.manrl"
    bad.write_bytes(bytes(data))
    assert main(["info", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("man-rl info: error: ") and "not a valid man_rl file" in lines[0]


def test_missing_file_and_plain_folder_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nothing.manrl")]) == 2
    assert main(["info", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert "does not exist" in lines[0] and "not a man_rl storage folder" in lines[1]


def test_a_checkpoint_with_a_broken_header_is_corrupt(files, tmp_path):
    from man_rl.io.bundle import read_bundle, write_bundle

    bundle = read_bundle(files / "ltm.manrl", None)
    meta = {k: v for k, v in bundle.meta.items() if k != "config"}
    write_bundle(tmp_path / "x.manrl", bundle.kind, meta, bundle.arrays)
    with pytest.raises(CorruptFileError, match="header is inconsistent"):
        describe(tmp_path / "x.manrl")

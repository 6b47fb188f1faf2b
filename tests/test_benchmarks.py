"""The benchmark command runs (tiny settings); its numbers are not asserted here."""

from __future__ import annotations

from benchmarks.__main__ import main
from benchmarks.harness import Row, interleaved, render_table


def test_benchmark_command_prints_the_table(capsys):
    assert main(["--quick", "--only", "memory_bench"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ")
    for what in ["MemoryWrapper step", "ShortTermMemory.add", "sample(256)", "footprint"]:
        assert what in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 5  # header + one row per measurement (sample has two)


def test_interleaved_measures_both():
    calls = []
    mine, base = interleaved(lambda: calls.append("a"), lambda: calls.append("b"), 3)
    assert calls == ["a", "b"] * 3 and mine >= 0 and base >= 0


def test_table_marks_missed_targets():
    table = render_table(
        [Row("x", "1 s", "2 s", 0.5, "<= 1x", True), Row("y", "", "", None, "", False)]
    )
    assert "| x | 1 s | 2 s | 0.50x | <= 1x | yes |" in table
    assert "| NO |" in table

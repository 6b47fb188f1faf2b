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


def test_recall_bench_runs_small_and_its_checks_reject_what_they_must():
    from types import SimpleNamespace

    from benchmarks import recall_bench

    rows = recall_bench.run(quick=True)
    assert [r.what.split(" ")[1].strip(",") for r in rows] == ["A", "B"] * 2
    assert all("judge acc" in r.measured for r in rows[:2])
    assert all(r.ratio is not None and r.ratio > 0 for r in rows[2:])

    def report(**figures):
        return SimpleNamespace(**{"diversity": 1.0, "fidelity": 1.0, **figures})

    assert recall_bench.variety_check(report())
    for collapsed_or_blurred in (
        report(diversity=0.07),
        report(diversity=3.0),
        report(fidelity=6.4),
    ):
        assert not recall_bench.variety_check(collapsed_or_blurred)
    accuracy = recall_bench.accuracy_check(0.95)
    assert accuracy(SimpleNamespace(accuracy=0.96, ceiling=1.0))
    assert not accuracy(SimpleNamespace(accuracy=0.9, ceiling=1.0))
    assert not accuracy(SimpleNamespace(accuracy=1.0, ceiling=None))


def test_out_of_the_box_suite_runs_small(tmp_path):
    from benchmarks import outofbox_bench

    rows = outofbox_bench.run(quick=True, grids=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quick-A.png", "quick-B.png"]
    assert [r.what.split(" ")[1] for r in rows] == ["A", "B", "A", "B"]
    assert all("defaults" in r.what and r.met in (True, False) for r in rows[:2])
    assert all(" step, 84x84" in r.what and "ms/step" in r.measured for r in rows[2:])
    assert set(outofbox_bench.SUITE) == {"empty16", "breakout", "obstacles", "doorkey"}


def test_the_out_of_box_bench_reads_settings_and_refuses_unknown_rows(capsys):
    import pytest

    from benchmarks.outofbox_bench import main, setting

    assert setting("class_kl_weight=10") == ("class_kl_weight", 10)
    assert setting("root_reduction=mean") == ("root_reduction", "mean")
    assert setting("simplex_mean=null") == ("simplex_mean", None)
    with pytest.raises(SystemExit):
        main(["--set", "lam"])
    with pytest.raises(SystemExit):
        main(["nope"])
    assert "unknown rows ['nope']" in capsys.readouterr().err

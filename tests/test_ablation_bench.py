"""The ablation benchmark: every switch of the paper preset, one at a time (tiny settings)."""

from __future__ import annotations

from benchmarks.ablation_bench import EQ4_AS_PRINTED, run, table, variants
from man_rl.ltm.presets import alternatives, departures, preset


def test_variants_cover_every_switch_both_ways():
    for kind in ("A", "B"):
        names = [name for name, _, _ in variants(kind)]
        assert names[0] == "paper" and "recommended" in names and EQ4_AS_PRINTED in names
        for switch in departures(kind):
            assert sum(name.startswith(f"paper + {switch}=") for name in names) == 1
            assert sum(name.startswith(f"recommended - {switch} ") for name in names) == 1
        for switch in alternatives(kind):
            assert sum(name.startswith(f"recommended, {switch}=") for name in names) == 1
        assert len(names) == 3 + 2 * len(departures(kind)) + len(alternatives(kind))


def test_every_switch_has_a_row():
    for kind in ("A", "B"):
        changed = set()
        for _, _, overrides in variants(kind):
            changed |= set(overrides)
        assert changed == set(preset(kind, "paper"))
        for switch, value in alternatives(kind).items():  # tried: a value neither preset has
            assert preset(kind, "paper")[switch] == preset(kind, "recommended")[switch] != value


def test_run_judges_every_model_and_tabulates_it():
    only = ["paper", "paper + state_readout=True", "recommended"]
    rows = run(
        ["ManRL/Empty-4x4-v0"],
        steps=2,
        walk={"ManRL/Empty-4x4-v0": 150},
        kinds=("B",),
        judge_steps=20,
        only=only,
    )
    assert [r["variant"] for r in rows] == only
    for row in rows:
        assert row["steps"] == 2 and row["seconds"] >= 0
        assert 0.0 <= row["accuracy"] <= 1.0 and row["recognition"] is not None
    text = table(rows)
    assert text.count("\n") == len(rows) + 1 and "| ManRL/Empty-4x4 | B | paper |" in text

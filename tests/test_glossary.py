"""Every figure ``man-rl evaluate`` prints, and every figure of the report page's summary,
has a glossary line (its --help and its tooltip)."""

from __future__ import annotations

import re

from man_rl.evaluation.metrics import summary
from man_rl.glossary import GLOSSARY, explain

REPORT = {
    "model": "B",
    "recall_accuracy": 0.5,
    "judge": {"ceiling": 1.0},
    "accuracy_ratio": 0.5,
    "fidelity": 2.0,
    "mean_frame_fidelity": 9.0,
    "diversity": 0.7,
    "precision": 1.0,
    "recall": 0.25,
    "copies": 0.0,
    "manifold_coverage": 0.75,
    "fid": 1.5,
    "states_evaluated": 4,
    "coverage": 1.0,
    "recognition": {"accuracy": 0.9},
}


def printed_labels(line: str) -> list[str]:
    """The label before each number of a summary line."""
    body = line.split(": ", 1)[1]
    return [m.strip() for m in re.findall(r"(?:^|[,(] ?)([A-Za-z][A-Za-z ]*?) [0-9]", body)]


def test_every_figure_evaluate_prints_has_a_glossary_line():
    labels = printed_labels(summary(REPORT))
    assert len(labels) == 13 and "manifold recall" in labels and "recall" not in labels
    for label in labels:
        assert explain(label) is not None, label
    assert explain("a figure nobody defined") is None  # the check can fail


def page_summary_html(recognizes: bool) -> tuple[dict, str]:
    """The report page's summary table for a stand-in judge report, model and memory."""
    from types import SimpleNamespace

    import numpy as np

    from man_rl.report.summary import facts_table, judge_facts
    from man_rl.stm.memory import ShortTermMemory

    memory = ShortTermMemory(capacity=2)
    memory.add("a", np.zeros((4, 4), np.uint8))
    report = SimpleNamespace(
        states=[1],
        ceiling=1.0,
        accuracy=0.9,
        accuracy_ratio=0.9,
        fidelity=1.2,
        mean_frame_fidelity=3.0,
        diversity=0.8,
        precision=1.0,
        recall=0.5,
        coverage=0.75,
        copies=0.0,
        fid=1.0,
        kid=0.1,
    )
    model = SimpleNamespace(
        keys=["a", "b"],
        key_index={"a": 0, "b": 1},
        training_state=None,
        recognizes=recognizes,
        recognize=lambda frames: ["a"] * len(frames),
    )
    facts = judge_facts(report, model, memory)
    return facts, facts_table(facts, "recall")


def test_every_figure_evaluate_prints_has_a_tooltip_on_the_report_page():
    from html import escape

    facts, html = page_summary_html(recognizes=True)
    explained = re.findall(r'<th class="explained" title="([^"]+)">([^<]+)</th>', html)
    tooltips = {explain(name) for _, name in explained}
    assert all(title == escape(explain(name)) for title, name in explained)
    for label in printed_labels(summary(REPORT)):
        assert explain(label) in tooltips, label
    assert "<th>model</th>" in html  # not a figure: no tooltip
    # the page's own figures: coverage of the memory, recognition of its frames
    assert facts["coverage"] == 0.5 and facts["recognition"] == 1.0
    assert facts["manifold coverage"] == 0.75 and facts["manifold recall"] == 0.5


def test_a_model_that_does_not_recognise_gets_no_recognition_row():
    facts, _ = page_summary_html(recognizes=False)
    assert "recognition" not in facts and "coverage" in facts
    # the check above can fail: a label the page lacks is missed
    tooltips = {explain(name) for name in facts}
    assert explain("recognition") not in tooltips


def test_the_glossary_says_which_way_is_better():
    assert all(figure.better for figure in GLOSSARY.values())
    assert "LOWER" in explain("fidelity") and "HIGHER" in explain("recall accuracy")


def test_the_readme_lists_every_figure():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## What the figures mean", 1)[1].split("\n## ", 1)[0]
    for name in GLOSSARY:
        assert f"- **{name}**:" in section, name

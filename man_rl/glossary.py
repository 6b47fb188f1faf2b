"""What each figure of an evaluation means: one entry per figure.

Used by ``man-rl evaluate --help``, the report page's tooltips and the README.

Each entry says what the figure measures, its range, which way is better and the bar man_rl
uses (with why). :func:`explain` finds the entry of a label as the CLI or the report page
prints it.

Example:
    >>> explain("fidelity").split(";")[1:3]
    [' 0 to any, LOWER is better', ' 1 = as close as real screens are to each other']
    >>> explain("accuracy / ceiling") == explain("ratio")
    True
"""

from __future__ import annotations

from typing import NamedTuple


class Figure(NamedTuple):
    """One figure: what it measures, its range, which way is better, the bar and why."""

    what: str
    scale: str
    better: str
    bar: str

    def line(self, name: str) -> str:
        """``name: what; range, better; bar``."""
        return f"{name}: {self.what}; {self.scale}, {self.better} is better; {self.bar}"


GLOSSARY: dict[str, Figure] = {
    "recall accuracy": Figure(
        "share of recalled screens the judge (a classifier trained on real screens, never "
        "on a model) assigns to the state asked for",
        "0 to 1",
        "HIGHER",
        "bar >= 0.95 x the judge ceiling",
    ),
    "judge ceiling": Figure(
        "the judge's accuracy on held-out real screens: the most recall accuracy can mean",
        "0 to 1",
        "HIGHER",
        "below ~0.9 the states' real screens look alike and the judge is weak",
    ),
    "ratio": Figure(
        "recall accuracy over the judge ceiling",
        "0 to ~1",
        "HIGHER",
        "bar >= 0.95",
    ),
    "fidelity": Figure(
        "distance of each recalled screen to the nearest real screen of its state (train "
        "frames), over the same for held-out real screens",
        "0 to any",
        "LOWER",
        "1 = as close as real screens are to each other; bar <= 1.5 (a blur or noise is far above)",
    ),
    "mean frame": Figure(
        "the fidelity of each state's average real screen: the blur baseline a model must "
        "beat where a state's screens vary",
        "0 to any",
        "LOWER",
        "no bar; compare fidelity with it",
    ),
    "diversity": Figure(
        "spread of a state's recalled screens over the spread of its real screens (n/a where "
        "the real screens do not vary)",
        "0 to any",
        "CLOSER TO 1",
        "bar 0.6 to 1.4; near 0 is one picture drawn every time (collapse)",
    ),
    "precision": Figure(
        "share of recalled screens that fall within the real screens' k-NN manifold (in the "
        "judge's features)",
        "0 to 1",
        "HIGHER",
        "no bar; low means screens unlike any real one",
    ),
    "manifold recall": Figure(
        "share of real screens within the recalled screens' k-NN manifold (not recall "
        "accuracy: where each state has one screen, exact recalls cluster and score 0; read "
        "manifold coverage there)",
        "0 to 1",
        "HIGHER",
        "no bar",
    ),
    "manifold coverage": Figure(
        "share of real screens with a recalled screen among their k nearest real neighbours' ball",
        "0 to 1",
        "HIGHER",
        "no bar",
    ),
    "copies": Figure(
        "share of recalled screens equal (within one grey level) to a stored real screen",
        "0 to 1",
        "neither",
        "high is expected where a state has one screen; elsewhere it means memorising",
    ),
    "FID": Figure(
        "Frechet distance between real and recalled screens in the judge's features",
        "0 to any",
        "LOWER",
        "no bar; noisy from a few dozen samples, compare between equal sample counts",
    ),
    "coverage": Figure(
        "states the model knows that have screens in the memory",
        "0 to 1",
        "HIGHER",
        "no bar; states without screens are not judged",
    ),
    "recognition": Figure(
        "share of real screens a Type B model names as their own state",
        "0 to 1",
        "HIGHER",
        "bar >= 0.95 x the judge ceiling on held-out screens",
    ),
}

#: Labels the report page and the CLI print, and the entry each explains.
ALIASES = {
    "judge accuracy": "recall accuracy",
    "accuracy": "recall accuracy",
    "accuracy / ceiling": "ratio",
    "mean-frame fidelity (blur baseline)": "mean frame",
    "mean-frame fidelity": "mean frame",
    "mean_frame_fidelity": "mean frame",
    "FID / KID": "FID",
}


def explain(label: str) -> str | None:
    """The glossary line of ``label`` (a figure as printed), ``None`` when it has none."""
    name = ALIASES.get(label, label)
    found = GLOSSARY.get(name)
    if found is None:
        return None
    return found.line(name)


def glossary_text() -> str:
    """Every entry, one paragraph each (for ``--help`` and the README)."""
    return "\n".join(figure.line(name) for name, figure in GLOSSARY.items())


__all__ = ["ALIASES", "GLOSSARY", "Figure", "explain", "glossary_text"]

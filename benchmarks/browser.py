"""Headless Chromium for the report page's test and benchmark: the rendered DOM, a screenshot.

Chromium comes from the system packages (Debian: ``apt-get install chromium``; ``make
install`` adds it where apt-get exists). Each call starts a fresh browser with a temporary
profile, so calls never share state, and ``--no-sandbox`` lets it run as root (CI, containers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable, or ``None`` where none is installed."""
    given = os.environ.get("MANRL_CHROMIUM")
    if given:
        return given
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def page_url(page: Path, /, **fragment: str) -> str:
    """``file://`` address of ``page``, with ``#key=value&...`` when given."""
    url = Path(page).resolve().as_uri()
    return url + ("#" + urlencode(fragment) if fragment else "")


def _run(args: list[str], timeout: float) -> tuple[str, float]:
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="manrl-chromium-") as profile:
        command = [browser, *_FLAGS, f"--user-data-dir={profile}", *args]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout, seconds


def dump_dom(url: str, *, timeout: float = 120) -> tuple[str, float]:
    """``(DOM after the load event, wall seconds of the whole browser run)`` of ``url``."""
    return _run(["--dump-dom", url], timeout)


def screenshot(
    url: str, out: Path, *, size: tuple[int, int] = (1280, 900), timeout: float = 120
) -> Path:
    """A PNG screenshot of ``url`` at ``size`` (width, height), written to ``out``."""
    out = Path(out).resolve()
    _run([f"--screenshot={out}", f"--window-size={size[0]},{size[1]}", url], timeout)
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
    return out


def root_data(dom: str) -> dict[str, str]:
    """The ``data-*`` attributes of the page's ``<html>`` element (names without ``data-``)."""
    match = re.search(r"<html\b([^>]*)>", dom)
    if match is None:
        return {}
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', match.group(1)))


def blank_share(png: Path) -> float:
    """Share of a screenshot's pixels that are its most common colour (1.0: all blank)."""
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    _, counts = np.unique(pixels, axis=0, return_counts=True)
    return float(counts.max() / len(pixels))


__all__ = ["blank_share", "dump_dom", "find_chromium", "page_url", "root_data", "screenshot"]

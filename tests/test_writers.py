"""Writers (issue 21): one at a time, a full disk keeps the old file, what saves loads.

A full disk is simulated (``ENOSPC`` from ``os.fsync`` or ``os.replace``); the storage
folder's own full-disk cases are in ``test_storage_faults.py``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli import main
from man_rl.errors import FileInUseError, FileWriteError, InvalidValueError
from man_rl.io import atomic
from man_rl.io.bundle import read_bundle
from man_rl.io.lock import exclusive_writer, lock_path

HOLD_LOCK = """
import sys, time
from man_rl.io.lock import exclusive_writer
with exclusive_writer(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(60)
"""


def small_memory(n: int = 3, shape: tuple[int, ...] = (8, 8, 3)) -> ShortTermMemory:
    stm = ShortTermMemory(2, seed=0)
    for i in range(n):
        stm.add(f"s{i}", np.full(shape, 30 * i, np.uint8))
    return stm


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def other_writer(tmp_path):
    """Another process holding the write lock of ``tmp_path / 'out.manrl'``; yields its pid."""
    target = tmp_path / "out.manrl"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------- one writer at a time
def test_collect_resume_is_refused_while_another_run_writes_the_file(
    tmp_path, other_writer, capsys
):
    out = tmp_path / "out.manrl"
    small_memory().save(out)
    before = out.read_bytes()
    argv = ["collect", "--resume", "--out", str(out), "--agent", "random", "--steps", "5"]
    began = time.perf_counter()
    assert main([*argv, "--quiet"]) == 2
    assert time.perf_counter() - began < 5  # at once, not after collecting
    err = one_line(capsys)
    assert f"{out} is being written by another man-rl process (pid {other_writer})" in err
    assert "write to another --out" in err
    assert out.read_bytes() == before


def test_train_resume_is_refused_while_another_run_writes_the_file(tmp_path, other_writer, capsys):
    memory = tmp_path / "memory.manrl"
    small_memory().save(memory)
    out = tmp_path / "out.manrl"
    argv = ["train", "--memory", str(memory), "--model", "A", "--steps", "1", "--quiet"]
    assert main([*argv, "--resume", "--out", str(out)]) == 2
    assert f"(pid {other_writer})" in one_line(capsys)
    assert not out.exists()


def test_the_lock_is_released_and_removed_when_a_run_ends(tmp_path):
    out = tmp_path / "out.manrl"
    code = main(["collect", "--quiet", "--out", str(out), "--agent", "random", "--steps", "5"])
    assert code == 0 and out.exists()
    assert not lock_path(out).exists()
    with exclusive_writer(out):  # free
        assert lock_path(out).read_text().strip() == str(os.getpid())


def test_a_lock_held_in_this_process_refuses_a_second_one(tmp_path):
    with exclusive_writer(tmp_path / "f"), pytest.raises(FileInUseError, match="pid"):
        with exclusive_writer(tmp_path / "f"):
            pass


# ---------------------------------------------------------------------- a full disk
def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_save_on_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "m.manrl"
    small_memory(2).save(path)
    before = path.read_bytes()
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(FileWriteError) as caught:
        small_memory(3).save(path)
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert str(caught.value) == (
        f"could not write {path} (No space left on device); the old {path} is intact"
    )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.manrl"]  # no temporary file left
    with pytest.raises(FileWriteError, match=f"nothing was written to {tmp_path / 'new'}"):
        small_memory(3).save(tmp_path / "new")
    assert not (tmp_path / "new").exists()


def fail_writes_to(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """Make every atomic write into one of ``folders`` fail as a full disk does."""
    replace = os.replace

    def full(src, dst, *args, **kwargs):
        if Path(dst).parent in folders:
            raise OSError(errno.ENOSPC, "No space left on device")
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "replace", full)


@pytest.fixture
def rescue_folder(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("man_rl.cli.saving.tempfile.gettempdir", lambda: str(folder))
    return folder


def test_collect_on_a_full_disk_saves_what_it_gathered_elsewhere(
    tmp_path, monkeypatch, capsys, rescue_folder
):
    out_dir = tmp_path / "out"
    out = out_dir / "m.manrl"
    small_memory(shape=(40, 40, 3)).save(out)  # MiniGrid-Empty-5x5's screens
    before = out.read_bytes()
    fail_writes_to(monkeypatch, out_dir)
    argv = ["collect", "--quiet", "--resume", "--out", str(out), "--agent", "random"]
    assert main([*argv, "--steps", "30"]) == 2
    err = one_line(capsys)
    assert f"could not write {out} (No space left on device); the old {out} is intact" in err
    (rescued,) = rescue_folder.glob("*.rescued-*")
    assert f"was saved to {rescued} instead" in err
    assert out.read_bytes() == before
    memory = ShortTermMemory.load(rescued)
    assert {"s0", "s1", "s2"} < set(memory.keys)  # the old frames and the new
    assert sum(memory.seen().values()) >= 30 + 3


def test_collect_says_so_when_no_place_had_room(tmp_path, monkeypatch, capsys, rescue_folder):
    out = tmp_path / "m.manrl"
    monkeypatch.chdir(tmp_path)
    fail_writes_to(monkeypatch, tmp_path, rescue_folder)
    argv = ["collect", "--quiet", "--out", str(out), "--agent", "random", "--steps", "5"]
    assert main(argv) == 2
    err = one_line(capsys)
    assert f"nothing was written to {out}" in err and "it is lost" in err
    assert str(rescue_folder) in err


def test_train_on_a_full_disk_saves_the_model_elsewhere(
    tmp_path, monkeypatch, capsys, rescue_folder
):
    from man_rl.ltm import TypeA

    memory = tmp_path / "memory.manrl"
    small_memory().save(memory)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "model.manrl"
    fail_writes_to(monkeypatch, out_dir)
    argv = ["train", "--memory", str(memory), "--model", "A", "--steps", "2", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 2
    err = one_line(capsys)
    (rescued,) = rescue_folder.glob("*.rescued-*")
    assert f"nothing was written to {out}" in err and f"saved to {rescued} instead" in err
    assert TypeA.load(rescued).training_state.step == 2


# ---------------------------------------------------------------------- what saves, loads
def test_many_long_keys_round_trip(tmp_path):
    # a million keys of 100 characters (a 99 MiB header) round-trips too: see the report of
    # issue 21; here a tenth of them, to keep the test short
    stm = ShortTermMemory(1, frame_shape=(1, 1))
    frame = np.zeros((1, 1), np.uint8)
    for i in range(100_000):
        stm.add(f"{i:0100d}", frame)
    stm.save(tmp_path / "m.manrl")
    back = ShortTermMemory.load(tmp_path / "m.manrl")
    assert back.num_keys == 100_000 and back.keys[-1] == f"{99_999:0100d}"


def test_a_header_over_the_bound_is_refused_at_save_before_anything_is_replaced(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("man_rl.io.header.MAX_HEADER_BYTES", 2**20)  # 1 MiB, as if
    path = tmp_path / "m.manrl"
    small_memory().save(path)
    before = path.read_bytes()
    stm = ShortTermMemory(1, frame_shape=(1, 1))
    for i in range(20_000):  # a 2 MiB header
        stm.add(f"{i:0100d}", np.zeros((1, 1), np.uint8))
    with pytest.raises(InvalidValueError, match=f"cannot save {path}: header would take"):
        stm.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.manrl"]
    disk = ShortTermMemory(1, storage=tmp_path / "s")  # a storage folder's flush too
    disk.add("a", np.zeros((1, 1), np.uint8))
    disk.flush()
    disk.merge(stm)
    with pytest.raises(InvalidValueError, match="header would take"):
        disk.flush()
    meta = read_bundle(tmp_path / "s" / "meta.manrl", "short_term_memory_storage").meta
    assert meta["keys"] == ["a"]  # the last flush, whole
    monkeypatch.undo()
    disk.close()
    assert ShortTermMemory.open(tmp_path / "s").num_keys == 20_001


COLLECT = "import sys; from man_rl.cli import main; sys.exit(main(sys.argv[1:]))"


def test_collect_onto_a_real_full_disk_keeps_the_old_file_and_rescues_the_new(tmp_path, small_disk):
    """A real 64 KiB tmpfs (root only): the save runs out of room in the kernel, not in a
    monkeypatched call, and the CLI, in its own process, still ends in one line, exit 2."""
    disk = small_disk("64k")
    out = disk / "m.manrl"
    # 15 KB: fits; the resumed run's seeds are fresh, so its walk differs every time, but
    # 300 random steps see far more than the 10 more screens it takes to fill the disk
    small_memory(n=3, shape=(40, 40, 3)).save(out)
    before = out.read_bytes()
    roomy = tmp_path / "tmp"
    roomy.mkdir()
    argv = ["collect", "--quiet", "--resume", "--out", str(out), "--agent", "random"]
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, *argv, "--steps", "300"],
        capture_output=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(roomy)},
    )
    err = done.stderr.decode().strip()
    assert done.returncode == 2, err[-2000:]  # not a signal, not a traceback
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "No space left on device" in err and "intact" in err
    assert out.read_bytes() == before  # the old file, whole
    (rescued,) = roomy.glob("*.rescued-*")
    assert str(rescued) in err
    memory = ShortTermMemory.load(rescued)
    assert sum(memory.seen().values()) >= 300 + 3  # the old frames and the new

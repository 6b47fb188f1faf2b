"""Faults around a storage folder: a full disk, half-made folders, symbolic links (issue 21).

A full disk is a real 4 MiB tmpfs where the tests run as root and may mount one, hit in a
subprocess (a ``SIGBUS`` shows as a negative return code, not a dead pytest). Everywhere, a
simulated one (``ENOSPC`` from ``os.posix_fallocate``, or from the zeros written where the
file system cannot reserve) checks the same promises: an :class:`OSError` naming the folder,
the memory as it was before the add and usable, no unusable half-made folder left behind.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.errors import CorruptFileError, InvalidValueError
from man_rl.stm.folder import open_plain

SHAPE = (64, 64, 3)  # 12 KiB a frame: the 1 MiB reserved ahead holds 85


def frame(value: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return np.full(shape, value % 251, np.uint8)


def no_space(*args: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def cannot_reserve(*args: object) -> None:
    raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))


@pytest.fixture(params=["fallocate", "zeros"])
def fill_disk(request, monkeypatch):
    """Makes the disk full: ENOSPC from posix_fallocate, or (where the file system cannot
    reserve blocks) from the zeros written instead."""

    def full() -> None:
        if request.param == "fallocate":
            monkeypatch.setattr(os, "posix_fallocate", no_space, raising=False)
        else:
            monkeypatch.setattr(os, "posix_fallocate", cannot_reserve, raising=False)
            monkeypatch.setattr(os, "pwrite", no_space)

    return full


def add_until_full(stm: ShortTermMemory, start: int = 0) -> tuple[int, OSError]:
    """Add frame ``i`` to key ``i % 3`` from ``start`` until the disk is full; returns the
    first ``i`` that did not fit and the error."""
    for i in range(start, 10**6):
        try:
            stm.add(i % 3, frame(i))
        except OSError as err:
            return i, err
    raise AssertionError("the disk never filled")


# ---------------------------------------------------------------------- simulated full disk
class TestSimulatedFullDisk:
    def test_add_raises_naming_the_folder_and_changes_nothing(self, tmp_path, fill_disk):
        folder = tmp_path / "s"
        stm = ShortTermMemory(1000, storage=folder)
        for i in range(5):
            stm.add(i % 3, frame(i))
        stm.flush()
        fill_disk()
        added, err = add_until_full(stm, start=5)
        assert added == 2**20 // int(np.prod(SHAPE))  # the 1 MiB reserved ahead was used
        assert err.errno == errno.ENOSPC
        assert str(folder) in str(err) and "as it was before" in str(err)
        counts, seen, last = stm.counts(), stm.seen(), stm.queue(0)[-1].copy()
        assert sum(counts.values()) == added
        with pytest.raises(OSError, match="as it was before"):
            stm.add("new", frame(1))  # a new key that does not fit is not made
        assert "new" not in stm and stm.keys == [0, 1, 2]
        assert stm.counts() == counts and stm.seen() == seen
        assert np.array_equal(stm.queue(0)[-1], last)
        assert stm.sample(8).frames.shape == (8, *SHAPE)  # still usable
        stm.flush()
        stm.close()
        with ShortTermMemory.open(folder) as again:
            assert again.counts() == counts
            assert [int(v) for v in again.queue(1)[:3, 0, 0, 0]] == [1, 4, 7]

    def test_adds_go_on_once_there_is_room(self, tmp_path, monkeypatch):
        stm = ShortTermMemory(1000, storage=tmp_path / "s")
        with monkeypatch.context() as patch:
            patch.setattr(os, "posix_fallocate", no_space, raising=False)
            added, _ = add_until_full(stm)
        for i in range(added, added + 200):
            stm.add(i % 3, frame(i))
        assert len(stm) == added + 200
        last = added + 199
        assert int(stm.queue(last % 3)[-1, 0, 0, 0]) == last % 251
        assert int(stm.queue(0)[0, 0, 0, 0]) == 0

    def test_full_queues_go_on_in_place(self, tmp_path, fill_disk):
        stm = ShortTermMemory(2, storage=tmp_path / "s")
        stm.add("a", frame(1))
        stm.add("a", frame(2))
        fill_disk()
        for i in range(3, 100):  # each replaces the oldest frame, in its slot
            stm.add("a", frame(i))
        assert [int(v) for v in stm.queue("a")[:, 0, 0, 0]] == [98, 99]

    def test_merge_on_a_full_disk_merges_nothing(self, tmp_path, fill_disk):
        stm = ShortTermMemory(200, storage=tmp_path / "s")
        other = ShortTermMemory(200)
        for i in range(300):
            (stm if i < 30 else other).add(i % 4, frame(i))
        counts, seen = stm.counts(), stm.seen()
        fill_disk()
        with pytest.raises(OSError, match=rf"{tmp_path / 's'}.*nothing was merged"):
            stm.merge(other)
        assert stm.counts() == counts and stm.seen() == seen and stm.keys == [0, 1, 2, 3]

    def test_a_first_merge_on_a_full_disk_leaves_no_frame_shape(self, tmp_path, monkeypatch):
        stm, other = ShortTermMemory(200, storage=tmp_path / "s"), ShortTermMemory(200)
        for i in range(300):
            other.add(i % 4, frame(i))
        with monkeypatch.context() as patch:
            patch.setattr(os, "posix_fallocate", no_space, raising=False)
            with pytest.raises(OSError, match="nothing was merged"):
                stm.merge(other)
        assert stm.frame_shape is None and stm.keys == [] and len(stm) == 0
        stm.add("b", frame(7, (4, 6)))  # room again: the memory takes any shape
        assert stm.frame_shape == (4, 6)

    def test_first_frame_on_a_full_disk(self, tmp_path, fill_disk):
        stm = ShortTermMemory(10, storage=tmp_path / "s")
        fill_disk()
        with pytest.raises(OSError, match=str(tmp_path / "s")):
            stm.add("a", frame(1))
        assert len(stm) == 0 and stm.keys == []
        assert stm.frame_shape is None  # as it was: the failed frame set no shape

    def test_after_a_failed_first_frame_any_shape_may_come(self, tmp_path, monkeypatch):
        stm = ShortTermMemory(10, storage=tmp_path / "s")
        with monkeypatch.context() as patch:
            patch.setattr(os, "posix_fallocate", no_space, raising=False)
            with pytest.raises(OSError):
                stm.add("a", frame(1))
        stm.add("b", frame(7, (4, 6)))  # room again, and another shape
        stm.add("b", frame(8, (4, 6)))
        stm.close()
        with ShortTermMemory.open(tmp_path / "s") as again:
            assert again.frame_shape == (4, 6) and again.keys == ["b"]
            assert [int(v) for v in again.queue("b")[:, 0, 0]] == [7, 8]

    def test_flush_on_a_full_disk_keeps_the_last_flush(self, tmp_path, monkeypatch):
        folder = tmp_path / "s"
        stm = ShortTermMemory(10, storage=folder)
        stm.add("a", frame(1))
        stm.flush()
        stm.add("b", frame(2))
        meta = (folder / "meta.manrl").read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", no_space)
            for attempt in (stm.flush, stm.close):
                with pytest.raises(OSError, match=rf"{folder}.*still holds its last flush"):
                    attempt()
        assert (folder / "meta.manrl").read_bytes() == meta
        with pytest.raises(InvalidValueError, match="open in another"):
            ShortTermMemory.open(folder)  # the failed close left it open
        stm.add("c", frame(3))
        stm.close()
        with ShortTermMemory.open(folder) as again:
            assert again.counts() == {"a": 1, "b": 1, "c": 1}

    @pytest.mark.parametrize("existing", [False, True])
    def test_load_into_storage_on_a_full_disk_leaves_no_half_folder(
        self, tmp_path, monkeypatch, fill_disk, existing
    ):
        source = ShortTermMemory(200)
        for i in range(300):
            source.add(i % 3, frame(i))
        source.save(tmp_path / "m.manrl")
        saved = (tmp_path / "m.manrl").read_bytes()
        folder = tmp_path / "s"
        if existing:
            folder.mkdir()
        fill_disk()
        with pytest.raises(OSError, match=rf"{folder}.*nothing was kept") as caught:
            ShortTermMemory.load(tmp_path / "m.manrl", storage=folder)
        assert ("emptied" if existing else "removed") in str(caught.value)
        assert folder.exists() == existing and (not existing or list(folder.iterdir()) == [])
        assert (tmp_path / "m.manrl").read_bytes() == saved
        with pytest.raises(OSError, match=str(tmp_path / "c")):
            source.copy(storage=tmp_path / "c")
        assert not (tmp_path / "c").exists()
        monkeypatch.undo()  # room again: the same load works
        with ShortTermMemory.load(tmp_path / "m.manrl", storage=folder) as stm:
            assert stm.counts() == source.counts()

    def test_the_file_holds_frames_and_a_little_reserved_ahead(self, tmp_path):
        stm = ShortTermMemory(1000, storage=tmp_path / "s")
        for i in range(300):
            stm.add(i % 3, frame(i))
        used = 300 * int(np.prod(SHAPE))
        blocks = (tmp_path / "s" / "frames.u8").stat().st_blocks * 512
        assert used <= blocks <= used + max(2**20, used // 16) + 2 * 2**16


# ---------------------------------------------------------------------- a real full disk
SCRIPT = textwrap.dedent(
    """
    import errno, json, os, shutil, sys
    import numpy as np
    from man_rl import ShortTermMemory

    disk, source = sys.argv[1], sys.argv[2]
    report = {}

    def frame(i):
        return np.full((32, 32, 3), i % 251, np.uint8)

    def fill(stm):
        i = 0
        while True:
            try:
                stm.add(i % 3, frame(i))
            except OSError as err:
                return i, err
            i += 1

    def fill_up(path):  # take what room is left
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(4096))
        except OSError:
            os.close(fd)

    # load(storage=) of a memory larger than the disk, into a new and an existing folder
    for name in ("new", "existing"):
        target = os.path.join(disk, name)
        if name == "existing":
            os.mkdir(target)
        try:
            ShortTermMemory.load(source, storage=target)
            report[name] = "loaded"
        except OSError as err:
            report[name] = [str(err), os.path.exists(target) and os.listdir(target)]
    shutil.rmtree(os.path.join(disk, "existing"))

    # where the file system cannot reserve blocks, zeros are written: the same error
    real_fallocate = os.posix_fallocate
    def cannot(*args):
        raise OSError(errno.EOPNOTSUPP, "not supported")
    os.posix_fallocate = cannot
    zeros = ShortTermMemory(1000, storage=os.path.join(disk, "zeros"))
    added, err = fill(zeros)
    report["zeros"] = [added, str(err), sum(zeros.counts().values())]
    zeros.close()
    shutil.rmtree(os.path.join(disk, "zeros"))
    os.posix_fallocate = real_fallocate

    # adds until the disk is full, then flush on a full disk
    stm = ShortTermMemory(1000, storage=os.path.join(disk, "s"))
    added, err = fill(stm)
    counts = stm.counts()
    try:
        stm.add("new", frame(0))
        new_key = "added"
    except OSError:
        new_key = "new" in stm
    fill_up(os.path.join(disk, "filler"))
    try:
        stm.flush()
        flushed = "flushed"
    except OSError as flush_err:
        flushed = str(flush_err)
    os.remove(os.path.join(disk, "filler"))
    last = int(stm.queue(2)[-1, 0, 0, 0])
    stm.close()
    report["adds"] = [added, str(err), counts == stm.counts(), new_key, flushed, last]
    print(json.dumps(report))
    """
)


def test_a_real_full_disk_is_an_error_not_a_signal(tmp_path, small_disk):
    disk = small_disk("4m")
    source = ShortTermMemory(1000)
    for i in range(2400):  # 7.4 MB of frames: more than the disk holds
        source.add(i % 3, frame(i, (32, 32, 3)))
    source.save(tmp_path / "m.manrl")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(disk), str(tmp_path / "m.manrl")],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr.decode()[-2000:])  # no SIGBUS
    report = json.loads(done.stdout)
    folder = disk / "s"
    for name in ("new", "existing"):
        message, left = report[name]
        assert str(disk / name) in message and "nothing was kept" in message
        assert left == ([] if name == "existing" else False)  # no half-made folder
    added, message, total = report["zeros"]
    assert added > 1000 and total == added and "as it was before" in message
    added, message, unchanged, new_key, flushed, last = report["adds"]
    assert added > 1000 and str(folder) in message and "as it was before" in message
    assert unchanged and new_key is False
    assert flushed == "flushed" or (str(folder) in flushed and "last flush" in flushed)
    with ShortTermMemory.open(folder) as stm:  # what was added before the disk filled
        assert len(stm) == added
        assert int(stm.queue(2)[-1, 0, 0, 0]) == last
        assert stm.sample(4).frames.shape == (4, 32, 32, 3)


# ---------------------------------------------------------------------- half-made folders
def half_made_folder(tmp_path: Path) -> Path:
    """What a load killed before its first flush leaves: frames.u8 and lock, no meta."""
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "frames.u8").write_bytes(bytes(4096))
    (folder / "lock").write_bytes(b"")
    return folder


def test_a_half_made_folder_is_named_as_such_and_the_one_fix_works(tmp_path):
    folder = half_made_folder(tmp_path)
    fix = rf"half-made storage folder.*os\.remove\('{folder / 'frames.u8'}'\)"
    with pytest.raises(CorruptFileError, match=fix):
        ShortTermMemory(3, storage=folder)
    with pytest.raises(CorruptFileError, match=fix):
        ShortTermMemory.open(folder)
    with pytest.raises(CorruptFileError, match=fix):
        ShortTermMemory(3).copy(storage=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["frames.u8", "lock"]  # left as it was
    os.remove(folder / "frames.u8")  # what the message says to do
    with ShortTermMemory(3, storage=folder) as stm:
        stm.add("a", frame(1))
    with ShortTermMemory.open(folder) as stm:
        assert stm.counts() == {"a": 1}


def test_a_load_still_running_is_not_called_half_made(tmp_path):
    folder = tmp_path / "s"
    stm = ShortTermMemory(3, storage=folder)  # holds the lock
    stm.add("a", frame(1))
    (folder / "meta.manrl").unlink()  # as between the frames and the first flush of a load
    with pytest.raises(InvalidValueError, match="open in another"):
        ShortTermMemory.open(folder)
    stm.close()


# ---------------------------------------------------------------------- symbolic links
def storage_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "s"
    with ShortTermMemory(3, storage=folder) as stm:
        stm.add("a", frame(1))
    return folder


@pytest.mark.parametrize("name", ["frames.u8", "lock", "meta.manrl"])
def test_a_linked_file_in_a_storage_is_refused_and_its_target_untouched(tmp_path, name):
    folder = storage_folder(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_bytes((folder / name).read_bytes() or b"precious")
    before = target.read_bytes()
    (folder / name).unlink()
    (folder / name).symlink_to(target)
    with pytest.raises(CorruptFileError, match=rf"{folder / name} is a symbolic link"):
        ShortTermMemory.open(folder)
    with pytest.raises((CorruptFileError, InvalidValueError)):
        ShortTermMemory(3, storage=folder)
    assert target.read_bytes() == before and (folder / name).is_symlink()


@pytest.mark.parametrize("name", ["frames.u8", "lock", "meta.manrl"])
def test_a_dangling_link_creates_nothing_outside_the_folder(tmp_path, name):
    folder = tmp_path / "s"
    folder.mkdir()
    target = tmp_path / "outside" / name
    target.parent.mkdir()
    (folder / name).symlink_to(target)
    for make in (
        lambda: ShortTermMemory(3, storage=folder),
        lambda: ShortTermMemory(3, frame_shape=(2, 2), storage=folder),
        lambda: ShortTermMemory.open(folder),
    ):
        with pytest.raises(CorruptFileError, match=rf"{folder / name} is a symbolic link"):
            make()
    assert list(target.parent.iterdir()) == []


def test_a_link_made_after_the_check_is_not_followed(tmp_path):
    (tmp_path / "target").write_bytes(b"precious")
    (tmp_path / "frames.u8").symlink_to(tmp_path / "target")
    with pytest.raises(CorruptFileError, match="symbolic link"):
        open_plain(tmp_path / "frames.u8")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CorruptFileError, match="not a plain file"):
        open_plain(tmp_path / "fifo")
    assert (tmp_path / "target").read_bytes() == b"precious"

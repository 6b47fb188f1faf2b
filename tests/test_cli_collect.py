from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli import main
from man_rl.envs import reachable_states

SHORTEST_PATH = {(1, 1, 0), (2, 1, 0), (3, 1, 0), (3, 1, 1), (3, 2, 1), (3, 3, 1)}


def collect(tmp_path, *args, name="m.manrl"):
    out = tmp_path / name
    code = main(["collect", "--quiet", "--out", str(out), *args])
    return code, out


def test_pretrained_greedy_visits_only_the_shortest_path(tmp_path, capsys):
    code, out = collect(tmp_path, "--steps", "5000", "--epsilon", "0")
    assert code == 0
    memory = ShortTermMemory.load(out)
    assert set(memory.keys) == SHORTEST_PATH
    text = capsys.readouterr().out
    assert "states seen: 6" in text and "states never seen: 28" in text
    assert "note: a greedy agent saw 6 of 34 states; --epsilon 0.5 explores" in text
    assert f"memory saved to {out}" in text


def test_epsilon_one_covers_every_reachable_state(tmp_path):
    import gymnasium as gym

    code, out = collect(tmp_path, "--steps", "5000", "--epsilon", "1", "--capacity", "20")
    assert code == 0
    memory = ShortTermMemory.load(out)
    reachable = set(reachable_states(gym.make("MiniGrid-Empty-5x5-v0")))
    assert len(reachable) == 34
    assert set(memory.keys) == reachable
    assert max(memory.counts().values()) <= 20


def test_an_exploring_agent_gets_no_greedy_note(tmp_path, capsys):
    code, _ = collect(tmp_path, "--steps", "2000", "--epsilon", "0.5")
    assert code == 0 and "greedy agent" not in capsys.readouterr().out


def test_vector_collection_from_the_cli(tmp_path, capsys):
    code, out = collect(
        tmp_path,
        "--agent",
        "random",
        "--steps",
        "200",
        "--num-envs",
        "2",
        "--vectorization",
        "sync",
    )
    assert code == 0
    assert len(ShortTermMemory.load(out)) > 0
    assert "200 steps in 2 envs" in capsys.readouterr().out


def test_resume_adds_to_the_file(tmp_path, capsys):
    collect(tmp_path, "--agent", "random", "--steps", "50", "--capacity", "1000")
    before = len(ShortTermMemory.load(tmp_path / "m.manrl"))
    capsys.readouterr()
    code, out = collect(tmp_path, "--agent", "random", "--steps", "50", "--resume")
    assert code == 0
    # resumed runs draw fresh seeds, so episodes may end: each adds its next reset's frame
    episodes = int(re.search(r"ran 50 steps, (\d+) episodes", capsys.readouterr().out)[1])
    assert len(ShortTermMemory.load(out)) == before + 51 + episodes


def test_resume_with_other_capacity_is_refused(tmp_path, capsys):
    collect(tmp_path, "--agent", "random", "--steps", "5", "--capacity", "7")
    code, _ = collect(tmp_path, "--steps", "5", "--resume", "--capacity", "9")
    assert code == 2
    assert "drop --capacity" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "Nope-v0"], "unknown environment id"),
        (["--agent", "missing.npz"], "missing.npz"),
        (["--num-envs", "2", "--ray-workers", "2"], "not both"),
        (["--workers", "2", "--num-envs", "2"], "use one of --num-envs and --workers"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    code, out = collect(tmp_path, "--steps", "5", *args)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("argument", [["--steps", "0"], ["--epsilon", "1.5"], ["--capacity", "x"]])
def test_out_of_range_arguments(tmp_path, argument):
    with pytest.raises(SystemExit) as info:
        collect(tmp_path, *argument)
    assert info.value.code == 2


def test_out_is_a_folder(tmp_path, capsys):
    assert main(["collect", "--steps", "5", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


# A process started with SIGINT ignored (a job a non-interactive shell put in the background
# with `&`, and everything it starts, pytest's workers included) passes that on: Python then
# never raises KeyboardInterrupt, and a test that sends SIGINT would wait on a run that goes
# on. The child restores Python's own handler first, as an interactive shell's job has it.
_WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from man_rl.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def start_collect(out, steps=10**7, *extra, start_new_session=False):
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WITH_CTRL_C,
            "collect",
            "--agent",
            "random",
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=start_new_session,
    )


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its descendants (Linux ``/proc``)."""
    parent, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        # the fields after the name: state ppid pgrp ... utime (12th) stime (13th)
        child = int(stat.parent.name)
        parent[child], ticks[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {pid}, True
    while grew:
        more = {child for child, up in parent.items() if up in tree} - tree
        tree, grew = tree | more, bool(more)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def wait_until_collecting(process, seconds=2.5):
    # Long enough for imports and the first steps; the loop then runs until signalled. Counted
    # in CPU seconds of the run's processes, not wall time, so a loaded machine (the test
    # suite runs on 2 workers) waits longer instead of signalling a run still importing.
    deadline = time.monotonic() + 30 * seconds
    while tree_cpu_seconds(process.pid) < seconds and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()


def test_worker_processes_from_the_cli(tmp_path, capsys):
    code, out = collect(tmp_path, "--agent", "random", "--steps", "300", "--workers", "2")
    assert code == 0
    assert "ran 300 steps in 2 worker processes" in capsys.readouterr().out
    memory = ShortTermMemory.load(out)
    assert len(memory) >= 302  # both workers' steps and first resets, capacity not hit
    assert memory.num_keys > 10


@pytest.mark.parametrize(
    "how",
    [
        ["--agent", "random"],
        ["--agent", "pretrained", "--epsilon", "0.3"],
        ["--agent", "random", "--num-envs", "2"],
        ["--agent", "random", "--workers", "2"],
    ],
    ids=["random", "pretrained", "vector", "workers"],
)
def test_resumed_collection_gathers_new_frames(tmp_path, how):
    # a fixed-start env: only fresh seeds for agent and exploration make the second run differ
    args = ["--env", "MiniGrid-Empty-5x5-v0", "--steps", "200", "--capacity", "1000", *how]
    code, out = collect(tmp_path, *args)
    first = ShortTermMemory.load(out)
    assert code == 0
    code, out = collect(tmp_path, *args, "--resume")
    both = ShortTermMemory.load(out)
    assert code == 0 and len(both) > len(first)
    repeated = all(
        np.array_equal(
            both.queue(key)[: len(first.queue(key))], both.queue(key)[len(first.queue(key)) :]
        )
        for key in first.keys
    )
    assert not repeated  # the second run is not the first one again


def signal_worker_collection(tmp_path, send):
    """Run ``collect --workers 2``, signal it with ``send(process)``; (process, out, err)."""
    process = start_collect(tmp_path / "m.manrl", 10**7, "--workers", "2", start_new_session=True)
    try:
        wait_until_collecting(process, seconds=9)
        send(process)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        stop(process, group=True)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout
    return process, stdout, stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_worker_processes_and_saves_their_frames(tmp_path, sig):
    _, _, stderr = signal_worker_collection(tmp_path, lambda p: p.send_signal(sig))
    assert "Traceback" not in stderr
    assert len(ShortTermMemory.load(tmp_path / "m.manrl")) > 100


def test_ctrl_c_to_the_whole_process_group_keeps_the_workers_frames(tmp_path):
    # as Ctrl-C in a terminal sends it: the workers ignore it and return their shards
    _, _, stderr = signal_worker_collection(tmp_path, lambda p: os.killpg(p.pid, signal.SIGINT))
    assert "Traceback" not in stderr
    assert len(ShortTermMemory.load(tmp_path / "m.manrl")) > 100


def test_sigterm_to_the_whole_process_group_still_saves_and_exits(tmp_path):
    # the workers die with the group (their frames are lost); the main process saves the rest
    signal_worker_collection(tmp_path, lambda p: os.killpg(p.pid, signal.SIGTERM))
    ShortTermMemory.load(tmp_path / "m.manrl")  # whole and loadable


def stop(process, group=False):
    """Leave nothing running whatever a test did (a hung run would load the next tests)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
        except ProcessLookupError:
            pass
        process.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_what_was_gathered(tmp_path, sig):
    out = tmp_path / "m.manrl"
    process = start_collect(out)
    wait_until_collecting(process)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout and "Traceback" not in stderr
    memory = ShortTermMemory.load(out)
    assert len(memory) > 10


def test_kill_9_leaves_the_old_or_the_new_file_whole(tmp_path):
    out = tmp_path / "m.manrl"
    old = ShortTermMemory(5)
    old.add("old", np.zeros((40, 40, 3), np.uint8))
    old.save(out)
    rng = np.random.default_rng(0)
    for _ in range(4):
        # Killed at a random moment: while importing, collecting, or saving.
        process = start_collect(out, 3000, "--resume")
        time.sleep(float(rng.uniform(0.8, 3.5)))
        process.kill()
        process.communicate()
        memory = ShortTermMemory.load(out)  # never a half-written file
        assert memory.keys[0] == "old" and memory.counts()["old"] == 1
        assert len(memory) >= len(old)  # the old file, or a whole newer one
        old = memory


def test_same_seed_gives_a_bit_identical_memory_file(tmp_path):
    args = ["--agent", "pretrained", "--epsilon", "0.5", "--steps", "300", "--seed", "7"]
    collect(tmp_path, *args, name="a.manrl")
    collect(tmp_path, *args, name="b.manrl")
    collect(tmp_path, *args[:-1], "8", name="c.manrl")
    assert (tmp_path / "a.manrl").read_bytes() == (tmp_path / "b.manrl").read_bytes()
    assert (tmp_path / "a.manrl").read_bytes() != (tmp_path / "c.manrl").read_bytes()


def position_key(env, obs, info):
    """A key function for ``--key-fn MODULE:FUNC``: MiniGrid's position, no direction."""
    x, y = env.unwrapped.agent_pos
    return (int(x), int(y))


def test_key_fn_module_func(tmp_path, capsys):
    code, out = collect(
        tmp_path, "--agent", "random", "--steps", "100", "--key-fn", f"{__name__}:position_key"
    )
    assert code == 0
    keys = ShortTermMemory.load(out).keys
    assert keys and all(len(key) == 2 for key in keys)
    assert "never seen" not in capsys.readouterr().out  # the adapter's states are not these


def test_key_fn_cell_on_a_rendered_env(tmp_path):
    code, out = collect(tmp_path, "--agent", "random", "--steps", "50", "--key-fn", "cell")
    assert code == 0
    memory = ShortTermMemory.load(out)
    assert memory.frame_shape == (40, 40, 3)
    assert all(isinstance(key, str) for key in memory.keys)
    # the cells were sized for this env (dynamic downscaling) and saved with the memory
    assert memory.key_settings and memory.key_settings["width"] * memory.key_settings[
        "height"
    ] == len(memory.keys[0].replace("/", ""))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key-fn", "nope"], "--key-fn must be 'default', 'cell' or MODULE:FUNC"),
        (["--key-fn", "no_such_module_xyz:f"], "cannot import module 'no_such_module_xyz'"),
        (["--key-fn", "man_rl.envs:no_such_key"], "has no 'no_such_key'"),
        (["--key-fn", "man_rl.envs.atari:INSTALL_HINT"], "not a callable"),
        (["--key-fn", ":f"], "is not MODULE:NAME"),
        (["--preprocess", "crop"], "--preprocess must be 'none', 'atari' or MODULE:CLASS"),
        (["--preprocess", "no_such_module_xyz:Crop"], "cannot import module"),
        (["--preprocess", "atari"], "--preprocess atari needs an ALE env"),
        (
            ["--preprocess", "gymnasium.wrappers:GrayscaleObservation"],
            "cannot wrap MiniGrid-Empty-5x5-v0",
        ),
    ],
)
def test_bad_key_fn_and_preprocess_specs(tmp_path, capsys, args, message):
    code, out = collect(tmp_path, "--agent", "random", "--steps", "5", *args)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_atari_preprocess_with_cell_keys(tmp_path):
    pytest.importorskip("ale_py")
    code, out = collect(
        tmp_path,
        *("--env", "ALE/Breakout-v5", "--preprocess", "atari", "--key-fn", "cell"),
        *("--agent", "random", "--steps", "200"),
    )
    assert code == 0
    memory = ShortTermMemory.load(out)
    assert memory.frame_shape == (84, 84) and len(memory) >= 201
    width = memory.key_settings["width"]
    assert all(re.fullmatch(rf"([0-9a-v]{{{width}}}/)*[0-9a-v]{{{width}}}", k) for k in memory.keys)
    frames = memory.queue(memory.keys[0])
    assert frames.dtype == np.uint8 and frames.shape[1:] == (84, 84)


def test_atari_default_keys_are_the_ram_paddle(tmp_path, capsys):
    pytest.importorskip("ale_py")
    code, out = collect(tmp_path, "--env", "ALE/Breakout-v5", "--agent", "random", "--steps", "100")
    assert code == 0
    memory = ShortTermMemory.load(out)
    assert memory.frame_shape == (210, 160, 3)
    assert set(memory.keys) <= set(range(2, 8))


def test_atari_preprocess_in_worker_processes(tmp_path, capsys):
    pytest.importorskip("ale_py")
    code, out = collect(
        tmp_path,
        *("--env", "ALE/Breakout-v5", "--preprocess", "atari", "--agent", "random"),
        *("--steps", "200", "--workers", "2"),
    )
    assert code == 0
    assert "ran 200 steps in 2 worker processes" in capsys.readouterr().out
    memory = ShortTermMemory.load(out)
    assert memory.frame_shape == (84, 84) and len(memory) >= 202
    assert set(memory.keys) <= set(range(2, 8))  # the RAM key, read in each worker

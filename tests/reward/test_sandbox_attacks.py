"""The sandbox against code that tries to get out: each test fails if its attack works.

Most attacks run twice: with the worker's audit hook (the friendly layer that turns a
refusal into a readable message) and without it, to show that the operating system's
layer (namespaces, the read-only file system view, seccomp, resource limits) holds alone.
Each reward reports what it managed as its return value: 0.0 when every attempt was
refused, 1.0 (or more) when one got through.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from racerl.errors import RewardFunctionError
from racerl.reward import isolation as isolation_module
from racerl.reward import sandbox as sandbox_module
from racerl.reward.isolation import Isolation, SandboxUnavailableError, isolation
from racerl.reward.sandbox import (
    TEXT_LIMIT,
    MalformedReplyError,
    SandboxedReward,
    SandboxWarning,
    load_sandboxed,
    parse_reply,
)

PARAMS = {"steps": 2.0, "progress": 1.0, "all_wheels_on_track": True, "speed": 1.0,
          "distance_from_center": 0.1, "track_width": 0.76, "waypoints": [(0.0, 0.0)]}
BOTH_LAYERS = pytest.mark.parametrize("audit_hook", [True, False], ids=["hook", "os-only"])


def run_reward(tmp_path: Path, body: str, audit_hook: bool = True) -> float:
    path = tmp_path / "reward.py"
    path.write_text(body)
    with SandboxedReward(path, audit_hook=audit_hook) as sandbox:
        return sandbox.score([sandbox.instance()], [dict(PARAMS)])[0]


def attempts(*lines: str) -> str:
    """A reward that tries each line in turn and returns how many got through."""
    tries = "".join(f"    try:\n        {line}\n        got += 1\n"
                    "    except BaseException:\n        pass\n" for line in lines)
    return ("import ctypes, os, socket, sqlite3, _posixsubprocess\n\n"
            f"def reward_function(params):\n    got = 0\n{tries}    return float(got)\n")


def test_this_machine_isolates_the_sandbox():
    found = isolation()
    assert found.confined, f"the attack tests need OS isolation here: {found.reason}"
    assert "bubblewrap" in found.tool


@BOTH_LAYERS
def test_a_forged_pickle_on_the_reply_channel_runs_nothing_in_the_parent(tmp_path,
                                                                        audit_hook):
    marker = tmp_path / "ran-in-parent"

    class Payload:  # unpickling this would create the marker file in the parent
        def __reduce__(self):
            return (open, (str(marker), "w"))

    forged = pickle.dumps(Payload())
    frame = len(forged).to_bytes(4, "big") + forged
    body = (f"import os\n\nFRAME = {frame!r}\n\ndef reward_function(params):\n"
            "    for fd in os.listdir('/proc/self/fd'):\n"
            "        try:\n            os.write(int(fd), FRAME)\n"
            "        except OSError:\n            pass\n    return 1.0\n")
    with pytest.raises(RewardFunctionError, match="malformed reply") as info:
        run_reward(tmp_path, body, audit_hook)
    assert info.value.fatal
    assert not marker.exists()


@pytest.mark.parametrize("data", [
    pickle.dumps(("ok", [("ok", 1.0)])),
    b'{"results": [["ok", 1.0], ["ok", 2.0]]}',  # one result too many
    b'{"results": [["ok", true]]}',
    b'{"results": [["ok", NaN]]}',
    b'{"results": [["ok", "1e999"]]}',
    b'{"results": [["ok", 1e999]]}',
    b'{"results": [["raised", "os.system(\'x\')", "boom"]]}',
    b'{"results": [["opaque", "x", "not a name"]]}',
    b'{"results": [["str", {"a": 1}]]}',
    b'{"results": [["eval", "1+1"]]}',
    b'{"results": [["str", "' + b"x" * (TEXT_LIMIT + 1) + b'"]]}',
    b'{"results": [], "extra": 1}',
    b"\xff\xfe",
])
def test_replies_outside_the_protocol_are_refused(data):
    with pytest.raises(MalformedReplyError):
        parse_reply(data, 1)


def test_replies_of_the_protocol_are_accepted():
    reply = parse_reply(b'{"results": [["ok", 1.5], ["ok", "nan"], ["raised", "ValueError", '
                        b'"bad"], ["none"], ["str", "fast"], ["opaque", "<x>", "object"]]}', 6)
    assert reply["results"][0] == ["ok", 1.5]
    assert parse_reply(b'{"ok": true}', None) == {"ok": True}
    with pytest.raises(MalformedReplyError):
        parse_reply(b'{"ok": 1}', None)


@BOTH_LAYERS
def test_processes_cannot_be_started_or_outlive_the_call(tmp_path, audit_hook):
    token = "31415.926"  # a sleep that nothing else on the machine runs
    shell = f"sleep {token} & echo x > /tmp/shell-ran"
    body = attempts(
        "r, w = os.pipe(); _posixsubprocess.fork_exec([b'/bin/sh', b'-c', "
        f"{shell.encode()!r}], [b'/bin/sh'], True, (w,), None, None, -1, -1, -1, -1, -1, -1, "
        "r, w, False, True, -1, None, None, None, -1, None, False)",
        "assert ctypes.CDLL(None).fork() >= 0",
        f"assert ctypes.CDLL(None).system({('/bin/sleep ' + token).encode()!r}) == 0",
        "os.setsid()",
        "os.setpgid(0, 0)",
    )
    assert run_reward(tmp_path, body, audit_hook) == 0.0
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            alive.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    assert not any(token.encode() in cmd for cmd in alive)


def test_threads_are_limited(tmp_path):
    body = ("import threading, time\n\ndef reward_function(params):\n"
            "    started = 0\n    try:\n        for _ in range(200):\n"
            "            threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
            "            started += 1\n    except RuntimeError:\n        pass\n"
            "    return float(started)\n")
    assert run_reward(tmp_path, body) < 200


@BOTH_LAYERS
def test_nothing_is_written_outside_the_scratch_folder(tmp_path, audit_hook):
    database, fifo = tmp_path / "x.db", tmp_path / "fifo"
    body = attempts(
        f"sqlite3.connect({str(database)!r}).execute('create table t (x)')",
        f"os.mkfifo({str(fifo)!r})",
        f"open({str(tmp_path / 'plain.txt')!r}, 'w').write('x')",
        "os.mknod('/tmp/null', 0o20666, os.makedev(1, 3))",  # a device node, even in scratch
        "os.mkfifo('/tmp/fifo')",
    )
    assert run_reward(tmp_path, body, audit_hook) == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reward.py"]


def test_scratch_files_have_a_size_limit(tmp_path):
    body = attempts("open('/tmp/big', 'wb').write(b'x' * (40 * 1024 * 1024))")
    assert run_reward(tmp_path, body, audit_hook=False) == 0.0


@BOTH_LAYERS
def test_files_outside_the_runtime_cannot_be_read(tmp_path, audit_hook):
    secret = tmp_path / "models" / "other" / "secret.txt"  # beside the reward, like a model
    secret.parent.mkdir(parents=True)
    secret.write_text("the other team's model")
    home_file = next((p for p in Path.home().iterdir() if p.is_file()), None)
    readable = [str(secret), "/etc/passwd", "/etc/hostname", str(tmp_path / "reward.py")]
    if home_file is not None:
        readable.append(str(home_file))
    body = attempts(*(f"open({path!r}).read()" for path in readable),
                    f"os.listdir({str(tmp_path)!r})")
    assert run_reward(tmp_path, body, audit_hook) == 0.0


def test_texts_from_the_worker_are_cut_short(tmp_path):
    body = "def reward_function(params):\n    raise ValueError('S' * 100000)\n"
    with pytest.raises(RewardFunctionError) as info:
        run_reward(tmp_path, body)
    assert str(info.value).count("S") <= TEXT_LIMIT + 5


@BOTH_LAYERS
def test_there_is_no_network(tmp_path, audit_hook):
    body = attempts("socket.create_connection(('127.0.0.1', 22), timeout=1)",
                    "socket.socket(socket.AF_UNIX).connect('/run/systemd/private')",
                    "socket.socket(socket.AF_INET, socket.SOCK_DGRAM)")
    assert run_reward(tmp_path, body, audit_hook) == 0.0


def test_the_worker_sees_none_of_the_users_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RACERL_TEST_TOKEN", "secret-token")
    body = ("import os\n\ndef reward_function(params):\n"
            "    return float('RACERL_TEST_TOKEN' in os.environ)\n")
    assert run_reward(tmp_path, body) == 0.0


def test_without_isolation_untrusted_code_is_refused_and_the_rest_warned(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    missing = isolation_module.isolation.__wrapped__()
    assert not missing.confined and "bubblewrap" in missing.reason
    monkeypatch.setattr(isolation_module, "isolation", lambda: missing)
    monkeypatch.setattr(sandbox_module, "isolation", lambda: missing)
    path = tmp_path / "reward.py"
    path.write_text("def reward_function(params):\n    return 2.0\n")
    with pytest.raises(SandboxUnavailableError, match="refusing to run untrusted"):
        load_sandboxed(path, untrusted=True)
    with pytest.warns(SandboxWarning, match="NOT isolated"), load_sandboxed(path) as sandbox:
        assert sandbox.score([sandbox.instance()], [dict(PARAMS)]) == [2.0]
        assert sandbox.isolation == missing
    assert isinstance(missing, Isolation)


@pytest.mark.parametrize("exit_call, fragment", [
    ("os._exit(0)", "crashed the sandbox worker (exit code 0"),
    ("sys.exit(0)", "raised SystemExit"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt"),
])
def test_a_reward_that_exits_is_an_error_not_a_pass(tmp_path, exit_call, fragment):
    body = f"import os, sys\n\ndef reward_function(params):\n    {exit_call}\n"
    with pytest.raises(RewardFunctionError) as info:
        run_reward(tmp_path, body)
    assert fragment in str(info.value)

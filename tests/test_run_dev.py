"""`make run` (scripts/run-dev) in a scratch copy of the repository: it writes its mode to .env,
serves, and when the Inngest dev server cannot start it keeps npx's own output in
var/inngest-dev.log and quotes it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_run_dev_writes_env_and_keeps_npx_output(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("app.py", "gunicorn.conf.py", "support", "slack", ".flaskenv"):
        (repo / name).symlink_to(ROOT / name)
    (repo / "scripts" / "run-dev").write_bytes((ROOT / "scripts" / "run-dev").read_bytes())
    (repo / "scripts" / "run-dev").chmod(0o755)
    (repo / ".env").write_text("# mine\nSLACK_TEAM_ID=T0KEEP\nINNGEST_DEV=0\n")
    bin_dir = tmp_path / "bin"  # an npx that fails the way the real one does without network
    bin_dir.mkdir()
    (bin_dir / "npx").write_text(
        "#!/bin/sh\necho 'npm error code ENOTFOUND'\n"
        "echo 'FetchError: request to https://github.com/inngest/inngest/releases failed' >&2\n"
        "exit 1\n"
    )
    (bin_dir / "npx").chmod(0o755)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INNGEST_", "SLACK_", "FRONT_", "FLASK_", "DATABASE_", "PORT"))
    }
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        VENV=str(Path(sys.executable).parent.parent),
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path}/dev.db",
        LOG_LEVEL="WARNING",
        HOME=str(tmp_path),  # gunicorn's control socket goes under $HOME/.gunicorn
    )
    proc = subprocess.Popen(
        [str(repo / "scripts" / "run-dev")],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while "can download its binary" not in output:
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                break
            output += line
        output += proc.stdout.readline()  # the command to run elsewhere
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    env_file = (repo / ".env").read_text()
    assert "INNGEST_DEV=1" in env_file and f"PORT={port}" in env_file, env_file
    assert "INNGEST_DEV=0" not in env_file and "SLACK_TEAM_ID=T0KEEP" in env_file
    log = (repo / "var" / "inngest-dev.log").read_text()
    assert "FetchError" in log and "ENOTFOUND" in log
    assert "could not be started (npx exited)" in output, output
    assert "| npm error code ENOTFOUND" in output or "| FetchError" in output, output
    assert f"http://127.0.0.1:{port}/api/inngest" in output

"""A command run on a terminal of its own: a detached tmux server (socket
in a test's directory) with one pane, for fusionctl top's live view in the
host and VM tests."""
import subprocess
import time

import pytest


class Pane:
    """Runs |command| in sh in a |width|x|height| pane, with the variables
    |env| set; the shell records the terminal's settings before and after,
    and the command's exit status, in |where|."""

    def __init__(self, where, command, env=None, width=100, height=30, timeout=30):
        self.where = where
        self.timeout = timeout
        self.socket = str(where / "tmux.sock")
        script = where / "run.sh"
        # The shell traps ^C and ^\ so that it outlives the command to record
        # what happened.
        script.write_text(f"trap : INT QUIT\nstty -g > {where}/before\n{command}\n"
                          f"echo status=$? > {where}/status\nstty -g > {where}/after\n"
                          "sleep 600\n")
        env_args = [f"{k}={v}" for k, v in (env or {}).items()]
        subprocess.run(["tmux", "-S", self.socket, "new-session", "-d", "-x", str(width),
                        "-y", str(height), "env", *env_args, "sh", str(script)],
                       check=True, timeout=timeout)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True,
                              timeout=self.timeout)

    def screen(self):
        return self.tmux("capture-pane", "-p").stdout

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; the screen:\n{self.screen()}")

    def status(self):
        """The command's "status=N", once the shell recorded it all."""
        self.wait_for(lambda _: (self.where / "after").exists(), "the command to end")
        time.sleep(0.2)
        return (self.where / "status").read_text().strip()

    def settings_restored(self):
        return (self.where / "before").read_text() == (self.where / "after").read_text()

    def close(self):
        self.tmux("kill-server")

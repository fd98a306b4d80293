"""Run many `baremetal` commands in one Python process (python-ironicclient's own entry point,
ironicclient.shell.main, once per command with a fresh App): the same CLI, without paying Python's
and ironicclient's start-up (~1 s) per command.

stdin: a JSON list of argv lists (without the leading "baremetal").
stdout: a JSON list of {"argv", "rc", "stdout", "stderr"}.
"""
import contextlib
import io
import json
import logging
import sys

from ironicclient.shell import main


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    # cliff attaches log handlers to the root logger on every run; start each command clean
    for h in list(logging.root.handlers):
        logging.root.removeHandler(h)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    return {"argv": argv, "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    commands = json.load(sys.stdin)
    results = [run(argv) for argv in commands]
    sys.stdout.write(json.dumps(results))

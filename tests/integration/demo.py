#!/usr/bin/env python3
"""Postern in two minutes: two throwaway Dovecot backends ("old" and "new"),
Postern in front routing by a mapping file, and an account moved from one
backend to the other by editing the file and sending SIGHUP.

Run through scripts/demo, which builds Postern first, or directly:
    python3 tests/integration/demo.py --build-dir build-demo
"""

import argparse
import contextlib
import imaplib
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def say(text=""):
    print(text, flush=True)


def show_landing(port, user):
    backend = h.landing(port, user)
    say(f"  {user:<20} INBOX message says: Subject: on {backend}")
    return backend


def run(stack, state):
    ws = h.Workspace(stack.callback, prefix="postern-demo-")
    backends = {}
    for name in ("old", "new"):
        dovecot = h.Dovecot(ws, name, tls=False)
        stack.callback(dovecot.stop)
        dovecot.start()
        backends[name] = dovecot
        say(f"  Dovecot {name!r:6} on 127.0.0.1:{dovecot.imap_port}")

    port = h.free_port()
    mapping_path = ws.path / "mapping.tsv"
    h.write_mapping(mapping_path, {"alice@example.test": "new"})
    config = h.postern_config(
        listeners=[h.imap_listener("imap", port)],
        destinations=[h.dovecot_destination(name, d) for name, d in backends.items()],
        default_destination="old", mapping_path=mapping_path)
    postern = h.Postern(ws, config)
    state["postern"] = postern
    stack.callback(postern.stop)
    postern.start([port])
    say(f"  Postern       on 127.0.0.1:{port}")

    say("\n== Mapping file: alice -> new; everyone else -> default destination old")
    ok = show_landing(port, "alice@example.test") == "new"
    ok &= show_landing(port, "bob@example.test") == "old"

    say("\n== Moving bob: add 'bob@example.test new' to the mapping, send SIGHUP")
    h.write_mapping(mapping_path, {"alice@example.test": "new", "bob@example.test": "new"})
    postern.signal(signal.SIGHUP)
    # SIGHUP is handled asynchronously: give the reload a moment, then show
    # where bob lands whatever happened.
    try:
        h.wait_until(lambda: h.landing(port, "bob@example.test") == "new", 5.0,
                     interval=0.2, what="bob on new")
    except TimeoutError:
        pass
    ok &= show_landing(port, "bob@example.test") == "new"
    ok &= show_landing(port, "alice@example.test") == "new"
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.environ.get("POSTERN_BUILD_DIR"),
                        help="Postern build tree (contains bin/postern)")
    args = parser.parse_args()
    if args.build_dir:
        os.environ["POSTERN_BUILD_DIR"] = str(Path(args.build_dir).resolve())
    say("== Starting two Dovecot backends and Postern")
    state = {}
    try:
        with contextlib.ExitStack() as stack:
            ok = run(stack, state)
            say("\n== Stopping Postern (SIGTERM) and the backends")
    except (RuntimeError, AssertionError, OSError, TimeoutError, imaplib.IMAP4.error) as error:
        say(f"\ndemo failed: {str(error).splitlines()[0] if str(error) else repr(error)}")
        if "postern" in state:
            say("\n-- Postern log --\n" + h.tail(state["postern"].log_text(), 40))
        return 1
    say("done: every account landed where the mapping said" if ok
        else "unexpected routing: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

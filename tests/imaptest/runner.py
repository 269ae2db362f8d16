"""Run imaptest's scripted test groups against an IMAP server, and score it as imaptest does.

    python -m imaptest.runner --host 127.0.0.1 --port P --user U --password PW \\
        [--group NAME ...] [--verbose]

(with tests/ on sys.path). One line per group: PASS, FAIL with the first mismatch explained,
or SKIP with the missing capability; then imaptest's per-command counts and the summary
`N passed, N failed, N skipped`. Exit status 1 when a group failed, 2 on a usage error.
As a library: `run_group(name, host, port, user, password) -> GroupResult`.

Each step (command block) runs on its connection: its commands are pipelined, then replies
are read until every command has its tagged result. Untagged replies are matched against the
step's expectations as they come (a reply may satisfy several); a `!` one that matches fails
the step; at the end every `*` one must have been seen. A failed step does not stop the group
(later steps still count, as in imaptest); a lost connection or a timeout does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imaptest.client import (
    MAILBOX,
    TRACE_LINES,
    Connection,
    MboxSource,
    ProtocolError,
    Response,
    SetupError,
    append_line,
    prepare,
)
from imaptest.matcher import UnboundVariable, Variables, expand, is_status, match
from imaptest.script import (
    REPLY_ANY,
    Command,
    Existence,
    Script,
    ScriptError,
    Step,
    group_names,
    load_group,
    read_mbox,
)
from imaptest.tokens import Kind, Line, parse_args, render, show_text

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "imaptest"
DEFAULT_TIMEOUT = 30.0  # seconds a step may wait for its replies (imaptest's delay timeout)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    tls: bool = False
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class GroupResult:
    name: str
    status: str = "passed"  # passed | failed | skipped
    reason: str = ""  # the first failure, or why the group was skipped
    failures: list[str] = field(default_factory=list)
    steps: int = 0  # command blocks run (imaptest's "individual commands")
    extension: bool = False  # the group needs capabilities beyond IMAP4rev1
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)  # the group's !output lines
    trace: list[str] = field(default_factory=list)  # last lines of the conversation

    def line(self) -> str:
        """One printable line: PASS / FAIL with the first mismatch / SKIP with the reason."""
        if self.status == "skipped":
            return f"SKIP {self.name}: {self.reason}"
        if self.status == "failed":
            more = f" (+{len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
            return f"FAIL {self.name}: {self.reason}{more}"
        return f"PASS {self.name} ({self.steps} commands, {self.seconds:.2f} s)"


@dataclass
class _Best:
    depth: int
    reply: str
    why: str


@dataclass
class _StepState:
    """What one step has seen so far."""

    found: list[bool]
    pending: dict[str, Command]
    first_tag: str
    best: dict[int, _Best] = field(default_factory=dict)
    mismatches: int = 0
    first_extra: str | None = None


class _GroupRun:
    def __init__(self, script: Script, server: Server) -> None:
        self.script = script
        self.server = server
        self.result = GroupResult(script.name, extension=script.extension)
        self.trace: deque[str] = deque(maxlen=TRACE_LINES)
        self.variables = Variables()
        self.conns: list[Connection] = []
        self.source = MboxSource(read_mbox(script.mbox))

    def run(self) -> GroupResult:
        started = time.monotonic()
        try:
            self._run()
        finally:
            for conn in self.conns:
                conn.close()
        result = self.result
        result.seconds = time.monotonic() - started
        if result.failures:
            result.status, result.reason = "failed", result.failures[0]
            result.trace = list(self.trace)
        return result

    def fail(self, message: str, step: int | None = None, command: Command | None = None) -> None:
        if step is not None:
            steps = self.script.steps
            command = command or (steps[step].commands[0] if steps[step].commands else None)
            if command is None:
                context = f"(line {steps[step].untagged[0].line}) greeting"
            else:
                where = f"line {command.line}" if command.line else "added logout"
                context = f"({where}) `{show_text(command.plain)[:80]}`"
            message = f"step {step + 1}/{len(steps)} {context}: {message}"
        self.result.failures.append(message)

    # -- setup

    def _run(self) -> None:
        server, script = self.server, self.script
        try:
            setup_timeout = max(server.timeout, DEFAULT_TIMEOUT)
            for index in range(script.connections):
                self.conns.append(Connection(server.host, server.port, index, setup_timeout,
                                             server.tls, self.trace))
            skip = prepare(self.conns, script, self.source, server.user, server.password)
        except (OSError, TimeoutError) as exc:
            self.fail(f"setup: cannot talk to {server.host}:{server.port}: "
                      f"{exc or type(exc).__name__}")
            return
        except (ProtocolError, SetupError) as exc:
            self.fail(f"setup: {exc}")
            return
        if skip is not None:
            self.result.status, self.result.reason = "skipped", skip
            return
        self._bind_user_variables()
        for index, step in enumerate(script.steps):
            self.result.steps += 1
            if not self._step(index, step):
                return

    def _bind_user_variables(self) -> None:
        values = self.variables.values
        for index in range(self.script.connections):
            user = self.script.users.get(index + 1, self.server.user)
            local, _, domain = user.partition("@")
            suffix = "" if index == 0 else str(index + 1)
            values[f"user{suffix}"] = user
            values[f"username{suffix}"] = local
            values[f"domain{suffix}"] = domain or self.server.host
            values[f"password{suffix}"] = self.server.password
        values["mailbox"] = MAILBOX
        values["mailbox_url"] = urllib.parse.quote(MAILBOX, safe="")

    # -- steps

    def _step(self, index: int, step: Step) -> bool:
        """Run one step; False when the group cannot go on (connection lost, timeout)."""
        conn = self.conns[step.connection]
        if conn.closed:
            self.fail(f"connection {step.connection + 1} is already closed", index)
            return False
        self.variables.start_step(conn.exists)
        try:
            lines = [self._wire_line(command, conn) for command in step.commands]
        except UnboundVariable as exc:
            self.fail(str(exc), index)
            return True
        tags = [conn.next_tag() for _ in step.commands]
        pending = dict(zip(tags, step.commands, strict=True))
        state = _StepState([False] * len(step.untagged), pending, tags[0] if tags else "")
        deadline = time.monotonic() + self.server.timeout

        def on_reply(response: Response) -> None:
            self._reply(index, step, conn, state, response)

        try:
            if not step.commands:
                on_reply(conn.greeting)
            for tag, line in zip(tags, lines, strict=True):
                conn.send(tag, line, on_reply, deadline)
            while state.pending:
                response = conn.read(deadline)
                if response is None:
                    return self._disconnected(index, step, conn, state)
                on_reply(response)
        except TimeoutError:
            self.fail(f"no tagged reply within {self.server.timeout:.0f} s", index)
            return False
        except ProtocolError as exc:
            self.fail(str(exc), index)
            return False
        except OSError as exc:
            self.fail(f"connection {conn.index + 1} failed: {exc}", index)
            return False
        self._finish(index, step, state)
        return True

    def _wire_line(self, command: Command, conn: Connection) -> Line:
        """The command to send: variables expanded; a message-less APPEND gets the next
        message of the group's mbox (imaptest's `append` / `append MAILBOX [FLAGS] [DATE]`)."""
        parts = tuple(expand(self.variables, p) if isinstance(p, str) else p
                      for p in command.text)
        head = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else ""
        verb, _, args = head.partition(" ")
        if verb.lower() == "append" and not _gives_message((args,)):
            return append_line(self.source, conn.mailbox, args or None)
        return parts

    def _reply(self, index: int, step: Step, conn: Connection, state: _StepState,
               response: Response) -> None:
        if response.tag == "*":
            self._untagged(index, step, conn, state, response)
            if response.name == "EXPUNGE" and response.number is not None:
                self.variables.expunged(response.number)
            return
        if response.tag == "+":
            return
        command = state.pending.pop(response.tag, None)
        if command is None:
            raise ProtocolError(f"tagged reply for unknown tag {show_text(response.tag)}")
        assert command.reply is not None
        values = self.variables.values
        values["tag"] = response.tag
        outcome = match(self.variables, command.reply, response.args, prefix=True)
        values.pop("tag", None)
        if not outcome.ok:
            self.fail(f"expected tagged `{render(command.reply)}`, got "
                      f"`{render(response.args)}`", index, command)

    def _untagged(self, index: int, step: Step, conn: Connection, state: _StepState,
                  response: Response) -> None:
        if not step.untagged and (self.script.ignore_extra_untagged or conn.logout_sent):
            return
        values = self.variables.values
        tag = state.first_tag if state.first_tag in state.pending else ""
        prefix = is_status(response.args)
        found_some = False
        for i, expected in enumerate(step.untagged):
            if state.found[i]:
                continue
            if tag:
                values["tag"] = tag
            outcome = match(self.variables, expected.pattern, response.args, prefix)
            if tag:
                values.pop("tag", None)
            if outcome.ok:
                if expected.existence is Existence.MUST_NOT:
                    self.fail(f"unwanted untagged reply `* {render(response.args)}` (matches "
                              f"line {expected.line} `! {render(expected.pattern, False)}`)",
                              index)
                    return
                state.found[i] = found_some = True
                if step.ordered:
                    break
                continue
            best = state.best.get(i)
            if outcome.depth > 0 and (best is None or outcome.depth > best.depth):
                state.best[i] = _Best(outcome.depth, render(response.args), outcome.why)
            if step.ordered and expected.existence is Existence.MUST:
                break
        if not found_some:
            state.mismatches += 1
            if not self.script.ignore_extra_untagged and state.first_extra is None:
                state.first_extra = render(response.args)

    def _finish(self, index: int, step: Step, state: _StepState) -> None:
        missing = [i for i, e in enumerate(step.untagged)
                   if e.existence is Existence.MUST and not state.found[i]]
        if missing:
            first = step.untagged[missing[0]]
            text = render(first.pattern, directives=False)
            message = (f"missing {_replies(len(missing))} ({_replies(state.mismatches)} "
                       f"matched nothing), first: line {first.line} `* {text}`")
            expanded = expand(self.variables, text, keep_unbound=True)
            if expanded != text:
                message += f" = `* {expanded}`"
            best = state.best.get(missing[0])
            if best is not None:
                message += f"; closest `* {best.reply}`: {best.why}"
            self.fail(message, index)
        if state.first_extra is not None:
            self.fail(f"{state.mismatches} unexpected untagged replies, first: "
                      f"`* {state.first_extra}`", index)
        for text in step.output:
            try:
                self.result.output.append(expand(self.variables, text))
            except UnboundVariable as exc:
                self.fail(f"!output: {exc}", index)
        if step.sleep_ms:
            time.sleep(step.sleep_ms / 1000)

    def _disconnected(self, index: int, step: Step, conn: Connection, state: _StepState) -> bool:
        if not (step.expects_bye and conn.seen_bye):
            self.fail(f"connection {conn.index + 1} closed unexpectedly", index)
            return False
        for command in state.pending.values():
            if command.reply != REPLY_ANY:
                self.fail(f"expected tagged `{render(command.reply or ())}`, but the server said "
                          'BYE and closed the connection (only "" allows that)', index, command)
        self._finish(index, step, state)
        return True


def _replies(count: int) -> str:
    return f"{count} untagged repl{'y' if count == 1 else 'ies'}"


def _gives_message(parts: Line) -> bool:
    """Whether APPEND arguments carry the message (a literal, or CATENATE) after
    `mailbox [(flags)] ["date"]`."""
    args = parse_args(parts, lenient=True)
    i = 1
    if i < len(args) and args[i].kind is Kind.LIST:
        i += 1
    if i < len(args) and args[i].kind is Kind.STRING:
        i += 1
    return i < len(args) and (args[i].kind is Kind.LITERAL or
                              (args[i].atom() or "").lower() == "catenate")


# ---------------------------------------------------------------------------- API

def run_group(name: str, host: str, port: int, user: str, password: str, *,
              tests_dir: Path = DEFAULT_DIR, tls: bool = False,
              timeout: float = DEFAULT_TIMEOUT) -> GroupResult:
    """Run one test group (a file of tests_dir) against the server."""
    try:
        script = load_group(tests_dir, name)
        run = _GroupRun(script, Server(host, port, user, password, tls, timeout))
    except ScriptError as exc:
        return GroupResult(name, "failed", f"cannot read the group: {exc}", [str(exc)])
    return run.run()


def summary(results: Sequence[GroupResult]) -> list[str]:
    """imaptest's closing counts: failures per individual command, then groups."""
    ran = [r for r in results if r.status != "skipped"]
    lines = []
    for label, extension in (("base protocol", False), ("extensions", True)):
        mine = [r for r in ran if r.extension is extension]
        lines.append(f"{label}: {sum(len(r.failures) for r in mine)}/"
                     f"{sum(r.steps for r in mine)} individual commands failed")
    counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "skipped")}
    lines.append(f"{counts['passed']} passed, {counts['failed']} failed, "
                 f"{counts['skipped']} skipped")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imaptest.runner",
                                     description="Run imaptest's scripted tests against an "
                                                 "IMAP server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--group", action="append", metavar="NAME",
                        help="run only this group (repeatable); default: all")
    parser.add_argument("--tests-dir", type=Path, default=DEFAULT_DIR,
                        help="folder of the test groups (default: %(default)s)")
    parser.add_argument("--tls", action="store_true", help="implicit TLS (imaps)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds a step may wait for its replies (setup waits at least "
                             "the default)")
    parser.add_argument("--verbose", action="store_true",
                        help="every failure of a failed group, and the end of its conversation")
    args = parser.parse_args(argv)
    if not args.tests_dir.is_dir():
        print(f"error: no test folder at {args.tests_dir}", file=sys.stderr)
        return 2
    names = args.group or group_names(args.tests_dir)
    unknown = [n for n in names if not (args.tests_dir / n).is_file()]
    if unknown:
        print(f"error: no such group: {show_text(' '.join(unknown))}", file=sys.stderr)
        return 2
    results = []
    try:
        for name in names:
            result = run_group(name, args.host, args.port, args.user, args.password,
                               tests_dir=args.tests_dir, tls=args.tls, timeout=args.timeout)
            results.append(result)
            print(result.line(), flush=True)
            for text in result.output:
                print(f"  output: {show_text(text)}")
            if args.verbose and result.status == "failed":
                for failure in result.failures[1:]:
                    print(f"  also: {failure}")
                for text in result.trace:
                    print(f"  | {text}")
        for text in summary(results):
            print(text)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""`va-bench`: one entry point, one module per subcommand.

Each module in `va_safetybench.commands` exposes `HELP`, `Options` (a dataclass whose fields are its command line:
options.py) and `run(options) -> int`, and imports heavy libraries only inside `run`, so `--help` stays fast.
Exit status: 0 success, 1 a regression or failed check, 2 bad usage or bad input (130 interrupted, 141 the reader of
its output went away, as for a command that SIGPIPE ended).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from types import ModuleType

from .errors import ArchiveRejected, CheckFailed, EndpointMisconfigured, MissingExtra, VABenchError
from .fileio import is_disk_full
from .options import add_options, typed_options
from .printable import for_terminal
from .registry import Registry

COMMANDS: Registry[ModuleType] = Registry(
    "command",
    {
        "build": "va_safetybench.commands.build",
        "eval": "va_safetybench.commands.eval",
        "judge": "va_safetybench.commands.judge",
        "judge-agreement": "va_safetybench.commands.judge_agreement",
        "leaderboard": "va_safetybench.commands.leaderboard",
        "regress": "va_safetybench.commands.regress",
        "compare": "va_safetybench.commands.compare",
        "demo": "va_safetybench.commands.demo",
        "lm-eval": "va_safetybench.commands.lm_eval",
        "lmms-eval": "va_safetybench.commands.lmms_eval",
        "schema": "va_safetybench.commands.schema",
    },
)


def _available_commands() -> dict[str, ModuleType]:
    modules = {}
    for name in COMMANDS:
        try:
            modules[name] = COMMANDS.get(name)
        except ModuleNotFoundError as exc:
            if exc.name != COMMANDS.target(name):  # a real import bug, not a command that is not there yet
                raise
    return modules


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="va-bench",
        description="VA-SafetyBench: jailbreak evaluation of multimodal LLMs through video, audio and image inputs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in _available_commands().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        add_options(p, module.Options)
        p.set_defaults(_run=module.run)
    return parser


def _quiet_http_loggers() -> None:
    """openai/httpx DEBUG logs carry whole request bodies: benchmark text must not reach logs."""
    for name in ("openai", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _quiet_http_loggers()
    if argv and argv[0] == "lm-eval":  # a pass-through: lm-eval parses its own arguments
        from .commands import lm_eval

        return run_guarded(lambda: lm_eval.passthrough(argv[1:]))
    if argv and argv[0] == "lmms-eval":  # the same for lmms-eval
        from .commands import lmms_eval

        return run_guarded(lambda: lmms_eval.passthrough(argv[1:]))
    args = make_parser().parse_args(argv)
    return run_guarded(lambda: args._run(*typed_options(args)))  # a field's parse error is the command's one line


# cause -> (exit status, how its one stderr line starts); the nearest class in an error's MRO wins. The only
# place where an error becomes an exit status: library code raises by cause (errors.py) and never exits.
# Every exit-2 cause reads "error:" (scripts and CI logs grep for it); the message itself names the cause.
EXIT_STATUS: dict[type[VABenchError], tuple[int, str]] = {
    CheckFailed: (1, "check failed"),
    ArchiveRejected: (2, "error"),
    MissingExtra: (2, "error"),
    EndpointMisconfigured: (2, "error"),
    VABenchError: (2, "error"),  # InputError, and any cause added later until it gets its own entry
}


def exit_status(exc: VABenchError) -> tuple[int, str]:
    """(status, message prefix) for an error: the entry of its nearest class in EXIT_STATUS."""
    for cls in type(exc).__mro__:
        if cls in EXIT_STATUS:
            return EXIT_STATUS[cls]
    return EXIT_STATUS[VABenchError]


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (`va-bench ... | head`): stopping quietly is then what
    a shell pipeline expects, not a traceback."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured or replaced stdout: not a pipe of ours
        return False
    if not hasattr(select, "poll"):  # Windows: no way to tell, so the error stays an error
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(event & select.POLLERR for _, event in poll.poll(0))


def run_guarded(call, prog: str = "va-bench") -> int:
    """Run a command, mapping our errors to one stderr line and the exit status contract (0/1/2)."""
    try:
        status = int(call() or 0)
        sys.stdout.flush()  # here, not at exit, so that a reader gone away is caught below
        return status
    except VABenchError as exc:
        status, prefix = exit_status(exc)
        print(f"{prog}: {prefix}: {for_terminal(exc)}", file=sys.stderr)  # messages quote file contents
        return status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished work is kept, run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not stdout_reader_gone():  # a pipe to a child process or a socket: a real failure
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush has nowhere to fail
        return 141
    except OSError as exc:
        if not is_disk_full(exc):  # fileio's writes survive it whole: nothing finished is lost
            raise
        where = f"cannot write {exc.filename}" if exc.filename else "cannot write"
        print(
            f"{prog}: error: {for_terminal(where)}: {exc.strerror}; finished work is kept: "
            "free space and run the same command again to resume",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())

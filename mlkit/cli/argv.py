"""Global options anywhere on the command line.

``mlkit models list --verbose`` and ``mlkit --json models list`` read as people mean them: the
global options (``--verbose``/``-v``, ``--registry URL``) are moved before the command, and a
``--json`` given before the command is moved after it (each command that prints data takes
``--json``). Nothing after ``--`` moves.
"""

from __future__ import annotations

from collections.abc import Sequence

FLAGS = ("--verbose", "-v")
VALUED = ("--registry",)
COMMAND_FLAGS = ("--json",)  # accepted before the command, passed to it


def normalize(argv: Sequence[str]) -> list[str]:
    """``argv`` with the global options first and a leading ``--json`` moved to the command."""
    front: list[str] = []
    rest: list[str] = []
    tail: list[str] = []
    seen_command = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in FLAGS:
            front.append(arg)
        elif arg in VALUED and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        elif any(arg.startswith(f"{name}=") for name in VALUED):
            front.append(arg)
        elif arg in COMMAND_FLAGS and not seen_command:
            tail.append(arg)
        else:
            seen_command = seen_command or not arg.startswith("-")
            rest.append(arg)
        i += 1
    if tail and "--" in rest:
        cut = rest.index("--")
        rest = rest[:cut] + tail + rest[cut:]
    else:
        rest += tail
    return front + rest


# The commands that may start a project in a folder with none above it (they write one: a
# registry, a warehouse table); every other command reads a project and refuses to start one.
STARTS_PROJECT = {
    ("train",),
    ("data", "load"),
    ("models", "register"),
    ("models", "import"),
    ("registry", "upgrade"),
    ("pipeline", "run"),
    ("pipeline", "step"),
}


def starts_project(argv: Sequence[str]) -> bool:
    """Whether the (normalized) command line runs one of :data:`STARTS_PROJECT`."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in VALUED:
            skip = True
        elif arg == "--":
            break
        elif not arg.startswith("-"):
            words.append(arg)
    return tuple(words[:1]) in STARTS_PROJECT or tuple(words[:2]) in STARTS_PROJECT

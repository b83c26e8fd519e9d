"""The README's examples, as written, and the example scripts (serially).

The quick start's ``contour-fem`` lines run in a scratch folder (the long verbs, ``benchmark``,
``sweep`` and ``convergence``, are exercised by their own tests), then every ``python`` block of
the README runs there in order, so the Python examples read what the commands wrote.
"""

import os
import re
import runpy
import shlex
import shutil
from pathlib import Path

import pytest

from contour_fem.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CHEAP_VERBS = ("solve", "check", "params", "plot", "cite", "mesh")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def quick_start_commands() -> list[list[str]]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("contour-fem "):
                argv = shlex.split(line)[1:]
                if argv and argv[0] in CHEAP_VERBS:
                    lines.append(argv)
    return lines


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "geometries", folder / "geometries")
    cwd = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(cwd)


def test_the_quick_start_commands_run(scratch):
    commands = quick_start_commands()
    assert any(argv[0] == "solve" and "--set" in argv for argv in commands)
    for argv in commands:
        assert main(argv) == 0, argv


def test_the_python_examples_run(scratch):
    code = blocks("python")
    assert code, "the README has Python examples"
    namespace: dict = {}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)  # our own README, as written


def test_the_example_script_runs(tmp_path):
    rows = runpy.run_path(str(ROOT / "examples" / "height_scan.py"))["main"](tmp_path / "scan")
    assert [round(r["height_um"]) for r in rows] == [5, 25, 50]
    assert all((tmp_path / "scan" / f"eggbox_H{h}S150" / "result.json").exists()
               for h in (5, 25, 50))

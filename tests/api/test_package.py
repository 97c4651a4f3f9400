"""The package a user installs: `mimic --version`, bare `mimic`, and the files PyPI shows (long description,
licence, metadata). The wheel itself is built, installed and run from an empty folder by `.ci/wheel`."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from mimic_vlm import __version__

ROOT = Path(__file__).resolve().parents[2]


def mimic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mimic_vlm", *args], capture_output=True, text=True, timeout=120)


def test_version_and_bare_mimic():
    r = mimic("--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{__version__}\n", "")
    bare = mimic()
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout.startswith("Usage: mimic [OPTIONS] COMMAND [ARGS]...") and "error" not in bare.stdout
    assert " eval " in bare.stdout and "--version" in bare.stdout


def test_pyproject_metadata_and_long_description():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert project["authors"] and project["keywords"] and project["urls"]
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    long = (ROOT / project["readme"]).read_text()
    assert long.startswith("```bash\npip install mimic-vlm\n```")
    links = re.findall(r"\]\(([^)]*)\)|(https?://\S+)", long)
    assert links == []  # PyPI shows it without the checkout: nothing to follow outside the package
    assert "make " not in long  # the sdist has no Makefile
    licence = (ROOT / "LICENSE").read_text()
    assert licence.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in licence and len(licence) > 11000


def test_the_sdist_ships_no_tests():
    """Tests need the checkout's fixtures and shared data; the sdist holds the package and its metadata."""
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "prune tests" in manifest and any(line.startswith("include LICENSE") for line in manifest)

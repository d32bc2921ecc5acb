"""Package discovery for pyproject.toml's package-dir mapping (cli/ is papertools.cli, core/ is
papertools.core): every package under the two folders is found, none is listed by hand. All
other metadata lives in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[f"papertools.{name}" for name in find_packages(include=["cli", "cli.*", "core", "core.*"])])

"""Build hook: the wheel carries the top-level ``migrations/`` as ``callagent/migrations``.

Alembic's scripts stay at the repository's top (``migrations/``, where ``alembic.ini``
and the design put them); an installed callagent reads them from inside its package
(:func:`callagent.db.session.migrations_dir`). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithMigrations(build_py):
    """``build_py`` that also copies ``migrations/`` into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads migrations/ from the checkout itself
        shutil.copytree(
            HERE / "migrations",
            Path(self.build_lib) / "callagent" / "migrations",
            ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"),
            dirs_exist_ok=True,
        )


setup(cmdclass={"build_py": BuildPyWithMigrations})

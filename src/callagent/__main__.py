"""``python -m callagent`` is the same as the ``callagent`` command."""

from callagent.cli import main

main()

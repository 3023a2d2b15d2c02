"""YAML configuration files (wrap-up forms, QA scorecards) read as node trees.

Both readers walk the nodes themselves to name the line of every problem, so they need
`yaml.compose`, not `safe_load`. libyaml's safe loader does it about ten times faster
than the pure-Python one (every app start reads both files: the tests start a thousand);
its nodes carry the same line marks. A broken file is read again by the pure-Python
loader, whose messages say more.
"""

from __future__ import annotations

import yaml
from yaml.nodes import Node

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotYaml(ValueError):
    """The text is not YAML; the message names the source and line."""


def compose(text: str, source: str) -> Node | None:
    """The node tree of ``text`` (None when it is empty); :class:`NotYaml` when it is not
    YAML, saying where (``source``:line)."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        pass  # the pure-Python loader's words say more ("but found '-'"): ask it
    try:
        root: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise NotYaml(f"{source}:{line}: not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise NotYaml(f"{source}: not valid YAML: {exc}") from exc
    return root

"""``callagent-agi``: process AGI for PBXs that cannot use FastAGI.

Asterisk runs it per call (``AGI(callagent-agi,route,<attempt>,<DIALSTATUS>)``); it
reads the AGI environment with pyst2, asks the running callagent service over HTTP
(``POST /api/v1/routing/route`` with a token that has the ``routing:agi`` scope)
and sets the same channel variables as FastAGI ``route``. On any error it sets
``CALLAGENT_STATUS=error`` and the dialplan falls back to the queue.

Configuration: ``CALLAGENT_URL`` (default ``http://127.0.0.1:8080``) and
``CALLAGENT_AGI_TOKEN`` in the environment of Asterisk.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Entry point of the ``callagent-agi`` console script."""
    import httpx
    from asterisk.agi import AGI

    # pyst2 writes the whole environment (the caller's number and name) to stderr,
    # which Asterisk logs: send it nowhere.
    quiet = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    agi = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=quiet)
    args = sys.argv[1:]
    script = args[0] if args else "route"
    if script != "route":
        agi.set_variable("CALLAGENT_STATUS", "error")
        return 2
    previous = args[2] if len(args) > 2 else ""
    linkedid = agi.get_variable("CHANNEL(linkedid)") or agi.env.get("agi_uniqueid", "")
    topic = agi.get_variable("CALLAGENT_TOPIC") or None
    node = agi.get_variable("CALLAGENT_NODE") or None  # several Asterisk nodes: this one
    url = os.environ.get("CALLAGENT_URL", "http://127.0.0.1:8080").rstrip("/")
    token = os.environ.get("CALLAGENT_AGI_TOKEN", "")
    try:
        response = httpx.post(
            f"{url}/api/v1/routing/route",
            json={
                "linkedid": linkedid,
                "previous": previous,
                "topic": topic,
                "caller": agi.env.get("agi_callerid", ""),
                "node": node,
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=3.0,
        )
        response.raise_for_status()
        variables = dict(response.json()["variables"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        agi.verbose(f"callagent-agi: routing unavailable ({type(exc).__name__})", 1)
        agi.set_variable("CALLAGENT_STATUS", "error")
        return 1
    for name, value in variables.items():
        agi.set_variable(name, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())

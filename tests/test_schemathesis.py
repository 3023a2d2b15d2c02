"""schemathesis against the live OpenAPI document, authenticated: no server errors."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.sim.ami_server import trace_body
from tests.conftest import running_service, trace_bytes, wait_for
from tests.test_live_replay import play


async def test_schemathesis_finds_no_server_error(db_url: str, tmp_path: Path) -> None:
    async with running_service(db_url, originate_per_minute=1000) as service:
        await wait_for(lambda: service.monitor.clients[0].connected)
        await play(service, trace_body(trace_bytes("inbound_no_answer_then_next")))
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            create_user(
                session,
                login="op",
                role=Role.OPERATOR,
                password="op-password",
                endpoints=["PJSIP/op1001"],
            )
            session.commit()
        token = service.client.headers["Authorization"]
        # The coverage phase (every operation's boundary and wrong-typed values: NUL bytes,
        # huge numbers, where PostgreSQL refuses what SQLite takes) on both databases; the
        # random fuzzing, two-thirds of a run's time, on SQLite only: its requests reach
        # the same handlers, and the suite's time is one CI's budget.
        postgres = db_url.startswith("postgresql")
        phases = "examples,coverage,stateful" if postgres else "examples,coverage,fuzzing,stateful"
        schemathesis = Path(sys.executable).with_name("schemathesis")
        process = await asyncio.create_subprocess_exec(
            str(schemathesis),
            "run",
            f"{service.base_url}/openapi.json",
            "--header",
            f"Authorization: {token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            # 10 cases per operation (fixed seed): at 25 its two runs took 10 of the
            # suite's 72 worker-minutes on the 2-core machine
            "--max-examples",
            "10",
            "--phases",
            phases,
            "--seed",
            "20261122",
            # Revoking the token the run uses would turn the rest into 401s.
            "--exclude-path-regex",
            "^/api/v1/tokens/\\{token_id\\}$",
            "--request-timeout",
            "10",
            "--suppress-health-check",
            "all",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 600)
        text = output.decode(errors="replace")
        (tmp_path / "schemathesis.log").write_text(text)
        assert process.returncode == 0, text[-6000:]
        assert "No issues found" in text or "passed" in text, text[-3000:]

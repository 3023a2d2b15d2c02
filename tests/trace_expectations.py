"""What ``shared/pbx-traces/README.md`` says happened in each recorded call.

Each entry lists the call records a trace must give, with every field the
README states. ``legs`` are (channel, hangup cause, seconds up) and
``attempts`` (operator endpoint, outcome). Times marked "~" in the README
(rings, talk) are checked within 0.3 s; channel lifetimes within 0.02 s.
"""

from __future__ import annotations

from typing import Any

OP1 = "PJSIP/op1001"
OP2 = "PJSIP/op1002"

_INBOUND = {
    "direction": "inbound",
    "caller_number": "79031234567",
    "applicant_number": "79031234567",
    "dialled_number": "4951112233",
    "final": True,
    "partial": False,
    "closed_by_resync": False,
}

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "inbound_answered_caller_hangs_up": [
        {
            **_INBOUND,
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-00000000", 16, 5.51), ("PJSIP/op1001-00000001", 16, 5.01)],
            "ring_seconds~": 2.0,
            "talk_seconds~": 3.0,
            "hold_seconds": 0.0,
        }
    ],
    "inbound_answered_operator_hangs_up": [
        {
            **_INBOUND,
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "operator",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-00000002", 16, 5.52), ("PJSIP/op1001-00000003", 16, 5.01)],
            "ring_seconds~": 2.0,
            "talk_seconds~": 3.0,
        }
    ],
    "inbound_no_answer_then_next": [
        {
            **_INBOUND,
            "operator_endpoint": OP2,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "no_answer"), (OP2, "answered")],
            "legs": [
                ("PJSIP/trunk-00000004", 16, 10.51),
                ("PJSIP/op1001-00000005", 0, 5.0),
                ("PJSIP/op1002-00000006", 16, 5.0),
            ],
            "ring_seconds~": 7.0,  # 5 s on op1001 + ~2 s on op1002
        }
    ],
    "inbound_abandoned": [
        {
            **_INBOUND,
            "operator_endpoint": None,
            "disposition": "abandoned",
            "hangup_by": "applicant",
            "hangup_cause": 0,
            "attempts": [(OP1, "caller_gone")],
            "legs": [("PJSIP/trunk-00000007", 0, 3.01), ("PJSIP/op1001-00000008", 16, 2.5)],
            "wait_seconds~": 3.0,
            "talk_seconds": None,
            "answered_at": None,
        }
    ],
    "outbound_notify_answered": [
        {
            "direction": "outbound",
            "applicant_number": "79161234567",
            "dialled_number": "79161234567",
            "operator_endpoint": None,
            "disposition": "answered",
            "hangup_by": "system",
            "hangup_cause": 16,
            "attempts": [],
            "legs": [("PJSIP/trunk-0000000c", 16, 5.15)],
            "originate": {"action_id": "notify-1", "response": "Success", "reason": "4"},
            "final": True,
        }
    ],
    "outbound_notify_busy": [
        {
            "direction": "outbound",
            "applicant_number": "79161234567",
            "disposition": "busy",
            "hangup_cause": 17,
            "operator_endpoint": None,
            "answered_at": None,
            "legs": [("PJSIP/trunk-0000000d", 17, 0.31)],
            "attempts": [],
            "final": True,
        }
    ],
    "outbound_notify_no_answer": [
        {
            "direction": "outbound",
            "applicant_number": "79161234567",
            "disposition": "no_answer",
            "hangup_cause": 19,
            "operator_endpoint": None,
            "answered_at": None,
            "legs": [("PJSIP/trunk-0000000f", 19, 10.0)],
            "attempts": [],
            "final": True,
        }
    ],
    "queue_answered": [
        {
            **_INBOUND,
            "dialled_number": "7800",
            "queue_name": "support",
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "attempt_via": ["queue"],
            "legs": [("PJSIP/trunk-00000012", 16, 6.01), ("PJSIP/op1001-00000013", 16, 5.51)],
            "ring_seconds~": 2.0,
        }
    ],
    "hold_unhold": [
        {
            **_INBOUND,
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-00000018", 16, 9.01), ("PJSIP/op1001-00000019", 16, 8.5)],
            "hold_seconds~": 3.0,
            "ring_seconds~": 1.0,
        }
    ],
    "load_50_calls": [],  # checked by test_load_50_calls
    "coreshowchannels_midcall": [
        {
            **_INBOUND,
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-0000000d", 16, 8.01), ("PJSIP/op1001-0000000e", 16, 7.5)],
            "ring_seconds~": 1.0,
        }
    ],
    "inbound_recorded": [
        {
            **_INBOUND,
            "dialled_number": "4951112299",
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "recording_file": "/var/spool/asterisk/monitor/1795354552.974.wav",
            "variables>": {"CALLAGENT_RECORDING": "1795354552.974.wav"},
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-000003cc", 16, 5.51), ("PJSIP/op1001-000003cd", 16, 5.0)],
            "ring_seconds~": 2.0,
            "talk_seconds~": 3.0,
        }
    ],
    "outbound_notify_then_operator": [
        {
            "direction": "outbound",
            "caller_number": "74950000000",
            "applicant_number": "79161234567",
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-00000009", 16, 8.92), ("PJSIP/op1001-0000000a", 16, 4.7)],
            "originate": {"action_id": "notify-7", "response": "Success", "reason": "4"},
        }
    ],
    "click_to_call": [
        {
            "direction": "outbound",
            "linkedid": "c2c-1-op",
            "applicant_number": "79161234567",
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "applicant",
            "hangup_cause": 16,
            "variables>": {"CALLAGENT_ORIGIN": "click_to_call"},
            "originate": {"action_id": "c2c-1", "response": "Success", "reason": "4"},
            "legs": [("PJSIP/op1001-00000000", 16, 7.03), ("PJSIP/trunk-00000001", 16, 6.01)],
            "talk_seconds~": 4.0,
        }
    ],
    "operator_outbound_manual": [
        {
            "direction": "outbound",
            "caller_number": "1001",
            "applicant_number": "79161234567",
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "operator",
            "hangup_cause": 16,
            "attempts": [],
            "legs": [("PJSIP/op1001-00000002", 16, 6.02), ("PJSIP/trunk-00000003", 16, 6.02)],
            "talk_seconds~": 4.0,
        }
    ],
    "asterisk_restart_midcall": [
        {
            **_INBOUND,
            "operator_endpoint": OP1,
            "disposition": "answered",
            "hangup_by": "system",
            "hangup_cause": 16,
            "attempts": [(OP1, "answered")],
            "legs": [("PJSIP/trunk-00000000", 16, None), ("PJSIP/op1001-00000001", 16, None)],
        }
    ],
    "operator_register_unregister": [],
    "operator_phone_unreachable": [],
    "queue_pause_unpause": [],
    # Four feature codes dialled from op1001's phone: not contacts, no record (issue #11).
    "live/live_feature_codes": [],
    # A phone unregistering and registering again: no call.
    "live/live_reregister_while_paused": [],
}


def check_records(name: str, records: list[dict[str, Any]]) -> None:
    """Assert that ``records`` (API-shaped dicts, times as epoch floats) match the README."""
    expected = EXPECTED[name]
    if name == "load_50_calls":
        check_load_50(records)
        return
    assert len(records) == len(expected), f"{name}: {len(records)} records, want {len(expected)}"
    for want, got in zip(expected, sorted(records, key=lambda r: r["started_at"]), strict=True):
        for key, value in want.items():
            if key == "legs":
                legs = sorted(got["legs"], key=lambda leg: leg["created_at"])
                assert [(leg["channel"], leg["cause"]) for leg in legs] == [
                    (channel, cause) for channel, cause, _ in value
                ], name
                for leg, (_, _, up) in zip(legs, value, strict=True):
                    if up is None:  # the README gives no lifetime
                        continue
                    assert abs(leg["ended_at"] - leg["created_at"] - up) < 0.02, (name, leg, up)
            elif key == "attempts":
                assert [(a["endpoint"], a["outcome"]) for a in got["attempts"]] == value, name
            elif key == "attempt_via":
                assert [a["via"] for a in got["attempts"]] == value, name
            elif key.endswith("~"):
                field = key[:-1]
                assert got[field] is not None, (name, field)
                assert abs(got[field] - value) < 0.3, (name, field, got[field], value)
            elif key.endswith(">"):
                field = key[:-1]
                for k, v in value.items():
                    assert got[field].get(k) == v, (name, field, k)
            else:
                assert got[key] == value, (name, key, got[key], value)


def check_load_50(records: list[dict[str, Any]]) -> None:
    """50 inbound calls, answered round-robin by op1001/op1002, the callers hung up."""
    assert len(records) == 50
    assert len({r["linkedid"] for r in records}) == 50
    assert all(r["direction"] == "inbound" for r in records)
    assert all(r["disposition"] == "answered" for r in records)
    assert all(r["hangup_by"] == "applicant" for r in records)
    assert all(r["final"] and not r["partial"] for r in records)
    assert sum(len(r["legs"]) for r in records) == 100
    operators = [r["operator_endpoint"] for r in sorted(records, key=lambda r: r["started_at"])]
    assert set(operators) == {OP1, OP2}
    assert operators.count(OP1) == 25
    for record in records:
        assert abs(record["talk_seconds"] - 3.5) < 0.8, record["talk_seconds"]
        assert record["ring_seconds"] < 0.5

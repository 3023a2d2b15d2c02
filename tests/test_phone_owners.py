"""Which operators a phone's event concerns (OperatorBook._by_endpoint), exactly: the
database narrows the users by the list's text, so names that contain one another, LIKE's
wildcards and a phone two operators share must still come out right."""

from __future__ import annotations

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.session import make_engine, make_sessionmaker
from callagent.routing.operators import OperatorBook


def test_the_owners_of_a_phone_are_exactly_those_whose_list_holds_it(db_url: str) -> None:
    sessions = make_sessionmaker(make_engine(db_url))
    phones = {
        "a": ["PJSIP/op1001"],
        "b": ["PJSIP/op10010"],  # holds "PJSIP/op1001" as text, not as a phone
        "c": ["PJSIP/op_1", "SIP/x"],  # LIKE's "_" must match itself only
        "d": ["PJSIP/opX1"],
        "e": ["PJSIP/op%1"],
        "f": ["PJSIP/op1001", "PJSIP/shared"],  # a phone two operators share
        "g": ["PJSIP/shared"],
        "h": ["PJSIP/Оп1"],  # not ASCII: found without the narrowing
    }
    with sessions.begin() as db:
        ids = {
            login: create_user(
                db, login=login, role=Role.OPERATOR, password=None, endpoints=endpoints
            ).id
            for login, endpoints in phones.items()
        }
        gone = create_user(
            db, login="gone", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1001"]
        )
        gone.active = False  # an inactive user's phone is nobody's
    with sessions() as db:

        def owners(endpoint: str) -> list[str]:
            return sorted(u.login for u in OperatorBook._by_endpoint(db, endpoint))

        assert owners("PJSIP/op1001") == ["a", "f"]
        assert owners("PJSIP/op10010") == ["b"]
        assert owners("PJSIP/op_1") == ["c"]
        assert owners("PJSIP/op%1") == ["e"]
        assert owners("PJSIP/shared") == ["f", "g"]
        assert owners("PJSIP/Оп1") == ["h"]
        assert owners("PJSIP/op100") == []
        assert owners("SIP/x") == ["c"]
    assert len(ids) == len(phones)

"""``GET /api/v1/calls/{id}/recording``: a call's recording, with HTTP range requests.

Who may listen: ``recordings:listen`` and a call the credential may see (a supervisor
with a group: their group's calls; admins and tokens: all); operators only their own
calls and only when ``CALLAGENT_RECORDINGS_OPERATORS_LISTEN`` is on. The file is read
from ``CALLAGENT_RECORDINGS_DIR`` and never from outside it (``recordings.files``);
Starlette's ``FileResponse`` answers ``Range`` (206 with ``Content-Range``, 416), so
the browser's player can seek. Each listen is audited once (``recordings.listens``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from callagent.api.calls import may_see_call
from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, now
from callagent.config import Settings
from callagent.db.models import Call
from callagent.db.queries import get_call
from callagent.recordings.files import RecordingError, locate, media_type
from callagent.recordings.listens import record_listen

router = APIRouter(prefix="/api/v1", tags=["recordings"])
Listener = Annotated[Principal, Depends(Requires(Scope.RECORDINGS_LISTEN))]


def check_listener(db: Db, principal: Principal, call: Call, settings: Settings) -> None:
    """Refuse (coded 403) a principal who may not hear this call's recording."""
    if principal.sees_only_own_calls and not settings.recordings_operators_listen:
        raise RecordingError(
            403,
            "operators may not listen to recordings here "
            "(CALLAGENT_RECORDINGS_OPERATORS_LISTEN is off)",
            code="recording_operators_off",
        )
    if not may_see_call(db, principal, call):
        raise RecordingError(
            403,
            f"call {call.id} is not one of the calls you may see",
            code="recording_not_yours",
        )


def may_listen(db: Db, principal: Principal, call: Call, settings: Settings) -> bool:
    """Whether the call page shows this principal a player."""
    if Scope.RECORDINGS_LISTEN not in principal.scopes or not call.recording_file:
        return False
    try:
        check_listener(db, principal, call, settings)
    except RecordingError:
        return False
    return True


@router.get(
    "/calls/{call_id}/recording",
    response_class=FileResponse,
    summary="A call's recording (audio; Range requests for seeking; audited once a listen)",
    responses={
        200: {"content": {"audio/wav": {}}, "description": "the whole file"},
        206: {"description": "the requested range, with Content-Range"},
        403: {"model": Problem},
        404: {"model": Problem, "description": "no such call, no recording, or the file is gone"},
        416: {"description": "a range outside the file"},
    },
)
def call_recording(call_id: Id, request: Request, db: Db, principal: Listener) -> FileResponse:
    call = get_call(db, call_id)
    if call is None:
        raise HTTPException(404, f"no call with id {call_id}")
    settings: Settings = request.app.state.settings
    check_listener(db, principal, call, settings)
    path = locate(
        call.recording_file, folder=settings.recordings_dir, pbx_dir=settings.recordings_pbx_dir
    )
    if record_listen(db, principal=principal, call_id=call.id, file_name=path.name, now=now()):
        db.commit()
    return FileResponse(
        path,
        media_type=media_type(path),
        content_disposition_type="inline",
        filename=path.name,
        headers={"Cache-Control": "private, no-store"},
    )

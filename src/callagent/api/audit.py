"""``/api/v1/audit``: who read or exported personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal
from callagent.db.models import AuditEntry

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    rows: int


@router.get("", response_model=list[AuditOut], summary="The audit log, newest first")
def audit_list(
    db: Db,
    _: Annotated[Principal, Depends(Requires(Scope.AUDIT_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [AuditOut.model_validate(r) for r in rows]

"""``/api/v1/webhooks``: subscriptions and their deliveries (admins)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, now
from callagent.db.models import WebhookDelivery, WebhookSubscription
from callagent.webhooks.outbox import EVENT_TYPES

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Admin = Annotated[Principal, Depends(Requires(Scope.WEBHOOKS_ADMIN))]


class SubscriptionIn(BaseModel):
    url: AnyHttpUrl
    event_types: list[str] = Field(min_length=1)
    secret: str | None = Field(default=None, min_length=16, max_length=128)

    @field_validator("event_types")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type(s) {unknown}; known: {list(EVENT_TYPES)}")
        return value


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="the HMAC key; shown only in this response")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    delivered_at: datetime | None


@router.get("", response_model=list[SubscriptionOut], summary="List subscriptions")
def webhooks_list(db: Db, _: Admin) -> list[SubscriptionOut]:
    rows = db.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
    return [SubscriptionOut.model_validate(r) for r in rows]


@router.post("", response_model=SubscriptionCreated, status_code=201, summary="Subscribe a URL")
def webhooks_create(body: SubscriptionIn, db: Db, _: Admin) -> SubscriptionCreated:
    row = WebhookSubscription(
        url=str(body.url),
        event_types=sorted(set(body.event_types)),
        secret=body.secret or secrets.token_urlsafe(32),
        active=True,
        created_at=now(),
    )
    db.add(row)
    db.commit()
    return SubscriptionCreated(
        secret=row.secret, **SubscriptionOut.model_validate(row).model_dump()
    )


@router.delete(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="Stop a subscription (its pending deliveries are not sent)",
    responses={404: {"model": Problem}},
)
def webhooks_delete(subscription_id: Id, db: Db, _: Admin) -> SubscriptionOut:
    row = db.get(WebhookSubscription, subscription_id)
    if row is None:
        raise HTTPException(404, f"no webhook subscription with id {subscription_id}")
    row.active = False
    db.commit()
    return SubscriptionOut.model_validate(row)


@router.get("/deliveries", response_model=list[DeliveryOut], summary="Deliveries, newest first")
def deliveries_list(
    db: Db,
    _: Admin,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return [DeliveryOut.model_validate(r) for r in db.scalars(query).all()]


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Send a delivery again (a parked one, or one already delivered)",
    responses={404: {"model": Problem}},
)
def deliveries_redeliver(delivery_id: Id, request: Request, db: Db, _: Admin) -> DeliveryOut:
    row = db.get(WebhookDelivery, delivery_id)
    if row is None:
        raise HTTPException(404, f"no webhook delivery with id {delivery_id}")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now()
    row.locked_until = None
    db.commit()
    request.app.state.webhooks.notify()
    return DeliveryOut.model_validate(row)

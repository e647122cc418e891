"""A stored alert as the renderer sees it: the one reading of an `Alert` row (with its
organisation's name, location and photo) for every place that re-renders a sent alert."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.messages import Location, PhotoRef
from alerts.rendering import AlertView
from alerts.types import Kind, Urgency
from storage import queries
from storage.models import Alert


async def alert_view(session: AsyncSession, alert: Alert) -> AlertView:
    organisation = (
        await queries.organisation(session, alert.organisation_id)
        if alert.organisation_id
        else None
    )
    photo = json.loads(alert.photo) if alert.photo else None
    location = (
        Location(alert.latitude, alert.longitude)
        if alert.latitude is not None and alert.longitude is not None
        else None
    )
    return AlertView(
        id=alert.id,
        kind=Kind(alert.kind),
        text=alert.text,
        urgency=Urgency(alert.urgency),
        border=alert.border,
        place=alert.place,
        themes=tuple(json.loads(alert.themes)),
        people=alert.people,
        minors=alert.minors,
        organisation_name=organisation.name if organisation else alert.organisation_id,
        parent_id=alert.parent_id,
        location=location,
        photo=PhotoRef(photo["platform"], photo["ref"]) if photo else None,
    )

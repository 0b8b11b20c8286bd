"""The JSON API of handoff/bookings (`/api/v1/...`): API token required; actions name the user (`actor.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from .auth import check_api_token

router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_api_token)], tags=["bookings"])

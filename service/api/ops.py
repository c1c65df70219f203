"""Operations: liveness, readiness (store, schema, projector, lag) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from infra.settings import Settings
from service.api.auth import require_read
from service.api.deps import Metrics, get_readiness, get_settings
from service.api.errors import problems
from service.api.readiness import Readiness, problem_of
from service.api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, responses=problems(), summary="Liveness")
def healthz() -> dict[str, Any]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    response_model_exclude_unset=True,
    responses=problems(503),
    summary="Readiness",
)
def readyz(
    readiness: Annotated[Readiness, Depends(get_readiness)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict[str, Any]:
    """Ready when the store answers within 1.5 s, its schema is at head, the read model has
    caught up with the log as it stood at start-up, and the projector is running and
    advancing. Otherwise 503 with Retry-After and a `reason`: `store_unreachable`,
    `schema_behind`, `projector_not_running`, `projector_lost`, `projector_stalled` (lag,
    but no advance for `BACKCHANNEL_PROJECTOR_STALL_SECONDS`) or `catching_up`.

    The answer reports the lag and when the read model last advanced; with read tokens
    set it stays open but gives only the status and the reason (no head, no positions).
    """
    verdict = readiness.check()
    open_details = not settings.read_token_set
    if not verdict.ready:
        raise problem_of(verdict, open_details=open_details)
    if not open_details:
        return {"status": "ready"}
    observed = verdict.observed
    assert observed is not None
    return {
        "status": "ready",
        "schema_revision": observed.schema_revision,
        "position": observed.position,
        "head": observed.head,
        "lag": observed.lag,
        "last_progress": verdict.last_progress,
        "projector": verdict.projector,
    }


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_read)],
    responses=problems(
        401, others={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}}
    ),
    summary="Prometheus metrics",
)
def metrics(metrics: Metrics) -> Response:
    """Requests by route and status, latency, events appended by type, projection lag."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

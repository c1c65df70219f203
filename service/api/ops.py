"""Operations: liveness, readiness (store, schema, projection lag) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from infra import schema
from infra.settings import Settings
from service.api.auth import require_read
from service.api.deps import Metrics, get_backchannel, get_readmodel, get_settings
from service.api.errors import NOT_READY, ApiProblem, problems
from service.api.schemas import HealthOut, ReadyOut
from service.application import Backchannel
from service.queries import ReadModel

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, responses=problems(), summary="Liveness")
def healthz() -> dict[str, Any]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses=problems(503), summary="Readiness")
def readyz(
    backchannel: Annotated[Backchannel, Depends(get_backchannel)],
    settings: Annotated[Settings, Depends(get_settings)],
    readmodel: Annotated[ReadModel, Depends(get_readmodel)],
) -> dict[str, Any]:
    """Ready when the store answers and its schema is at head; reports the projection lag."""
    try:
        head = backchannel.head()
    except Exception as error:  # whatever the driver raises, the answer is "not ready"
        raise ApiProblem(
            503, f"the store is not reachable ({type(error).__name__})", type=NOT_READY
        ) from None
    try:
        schema.check_at_head(settings)
    except schema.SchemaOutOfDate as error:
        raise ApiProblem(503, str(error), type=NOT_READY) from None
    except Exception as error:
        raise ApiProblem(
            503, f"the schema cannot be read ({type(error).__name__})", type=NOT_READY
        ) from None
    try:
        position = readmodel.position()
    except Exception as error:
        raise ApiProblem(
            503, f"the read model cannot be read ({type(error).__name__})", type=NOT_READY
        ) from None
    return {
        "status": "ready",
        "schema_revision": schema.head_revision(settings),
        "position": position,
        "head": head,
        "lag": max(head - position, 0),
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

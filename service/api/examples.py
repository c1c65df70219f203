"""Examples for the OpenAPI document, from the reference article of 24 March 2022.

The Austin-Shoigu call of 18 February 2022, the calls sought since, and the refusals.
"""

from __future__ import annotations

from typing import Any

CNN: dict[str, Any] = {
    "name": "CNN",
    "url": "https://www.cnn.com/2022/03/24/politics/us-russia-military-communication/index.html",
    "published_at": "2022-03-24",
}
CALL_HELD: dict[str, Any] = {
    "id": "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e01",
    "type": "call_held",
    "occurred_at": "2022-02-18",
    "precision": "day",
    "actor": "lloyd-austin",
    "counterpart": "sergei-shoigu",
    "summary": "Austin last spoke with Russian Minister of Defense Sergey Shoygu.",
    "sources": [CNN],
    "details": {"mode": "phone"},
}
CALL_REQUESTED: dict[str, Any] = {
    "id": "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e02",
    "type": "call_requested",
    "occurred_at": "2022-03-01",
    "precision": "month",
    "actor": "lloyd-austin",
    "counterpart": "sergei-shoigu",
    "summary": "Over the past month, Secretary Austin has sought calls with his counterpart.",
    "sources": [CNN],
    "details": {"mode": "phone"},
}
CALL_REFUSED: dict[str, Any] = {
    "id": "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e03",
    "type": "call_refused",
    "occurred_at": "2022-03-24",
    "precision": "month",
    "actor": "sergei-shoigu",
    "counterpart": "lloyd-austin",
    "summary": "Minister Shoigu has so far declined to engage.",
    "sources": [CNN],
    "details": {"in_response_to": "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e02"},
}
AUSTIN: dict[str, Any] = {
    "id": "lloyd-austin",
    "name": "Lloyd Austin",
    "kind": "person",
    "country": "US",
    "role": "Secretary of Defense",
    "aliases": ["Lloyd J. Austin III"],
}
SHOIGU: dict[str, Any] = {
    "id": "sergei-shoigu",
    "name": "Sergei Shoigu",
    "kind": "person",
    "country": "RU",
    "role": "Minister of Defense",
    "aliases": ["Sergey Shoygu", "Sergei Shoygu"],
}
STORED: dict[str, Any] = {
    "channel": "lloyd-austin~sergei-shoigu",
    "recorded_at": "2026-11-24T10:00:00.123456Z",
}
STATUS: dict[str, Any] = {
    "channel": "lloyd-austin~sergei-shoigu",
    "actors": ["lloyd-austin", "sergei-shoigu"],
    "as_of": "2022-03-24T23:59:59.999999Z",
    "known_at": "2026-11-24T10:00:00Z",
    "status": "refused",
    "since": "2022-03-24",
    "last_contact": {
        "event_id": CALL_HELD["id"],
        "type": "call_held",
        "occurred_at": "2022-02-18",
    },
    "requests_since_contact": {"lloyd-austin": 1},
    "refusals_since_contact": {"sergei-shoigu": 1},
    "recent": {"call_refused": 1, "call_requested": 1, "call_held": 1},
    "event_count": 3,
    "evidence": [CALL_HELD["id"], CALL_REFUSED["id"]],
}
PAIR: dict[str, Any] = {
    "pair": "RU~US",
    "countries": ["RU", "US"],
    "channel_count": 1,
    "counts": {"refused": 1},
    "last_contact": {
        "event_id": CALL_HELD["id"],
        "type": "call_held",
        "occurred_at": "2022-02-18",
        "channel": "lloyd-austin~sergei-shoigu",
    },
}

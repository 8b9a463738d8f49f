"""EngineRouter answers exactly as FastAPI's APIRouter does (its prefix check only skips work): the same
status and body for every path and method, including 404s next to a prefix and 405s inside one."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nautilus.gateway.routers import API_PREFIX, EngineRouter

ENGINES = ("alpha", "alphabet", "beta")


def build(router_for) -> TestClient:
    app = FastAPI()
    for engine in ENGINES:
        router = router_for(engine)

        @router.get("")
        async def root(engine: str = engine) -> dict:
            return {"engine": engine, "route": "root"}

        @router.get("/items/{item_id}")
        async def item(item_id: int, engine: str = engine) -> dict:
            return {"engine": engine, "item": item_id}

        @router.post("/items")
        async def create(engine: str = engine) -> dict:
            return {"engine": engine, "created": True}

        app.include_router(router)
    return TestClient(app)


PLAIN = build(lambda engine: APIRouter(prefix=f"{API_PREFIX}/{engine}", tags=[engine]))
FAST = build(EngineRouter)

SEGMENTS = st.sampled_from(["alpha", "alphabet", "alph", "beta", "betas", "items", "7", "x"])


@hsettings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), parts=st.lists(SEGMENTS, max_size=4),
       versioned=st.booleans(), slash=st.booleans())
def test_answers_equal_the_plain_router(method, parts, versioned, slash) -> None:
    path = (API_PREFIX if versioned else "") + "".join(f"/{p}" for p in parts) + ("/" if slash else "")
    path = path or "/"
    plain, fast = PLAIN.request(method, path), FAST.request(method, path)
    assert (fast.status_code, fast.content) == (plain.status_code, plain.content), path


def test_known_cases() -> None:
    assert FAST.get(f"{API_PREFIX}/alphabet").json() == {"engine": "alphabet", "route": "root"}
    assert FAST.get(f"{API_PREFIX}/alpha/items/3").json() == {"engine": "alpha", "item": 3}
    assert FAST.put(f"{API_PREFIX}/beta/items").status_code == 405
    assert FAST.get(f"{API_PREFIX}/alphab/items/3").status_code == 404

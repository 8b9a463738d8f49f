"""Query parameters decoded by msgspec (``decode_query``) and documented from the same struct (``query_doc``)
behave like FastAPI's own ``Query()`` parameters, the reference: same accepted values, same 422s naming the
parameter, same OpenAPI parameters."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import Meta

from nautilus.core.bounds import check_name
from nautilus.core.errors import InvalidInput
from nautilus.gateway import errors
from nautilus.gateway.routers import decode_query, query_doc

TIMEFRAME = r"^[1-9][0-9]*(mo|[smhdwqy])$"


class Params(msgspec.Struct, frozen=True):
    symbol: Annotated[str, Meta(min_length=1, max_length=8)]
    timeframe: Annotated[str, Meta(pattern=TIMEFRAME)] = "1d"
    start: Annotated[str | None, Meta(description="ISO 8601, inclusive")] = None
    limit: Annotated[int, Meta(ge=1, le=500)] | None = None
    after: Annotated[int, Meta(ge=0, le=2**62)] = 0


def make_app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/ours", **query_doc(Params))
    async def ours(request: Request) -> dict:
        return msgspec.structs.asdict(decode_query(request, Params))

    @app.get("/reference")
    async def reference(
        symbol: Annotated[str, Query(min_length=1, max_length=8)],
        timeframe: Annotated[str, Query(pattern=TIMEFRAME)] = "1d",
        start: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> dict:
        return {"symbol": symbol, "timeframe": timeframe, "start": start, "limit": limit, "after": after}

    return app


API = TestClient(make_app())

values = {
    "symbol": st.one_of(st.text("ABCxyz.", max_size=10), st.just("")),
    "timeframe": st.one_of(st.sampled_from(["1d", "5m", "3mo", "0d", "1x", "d", ""]), st.text("1dm", max_size=3)),
    "start": st.one_of(st.just("2024-01-02"), st.text(max_size=5)),
    # integers as clients write them (padded or exponent forms are parsed differently by pydantic and msgspec)
    "limit": st.one_of(st.integers(-5, 600).map(str), st.sampled_from(["", "abc", "7.5", "-"])),
    "after": st.one_of(st.integers(-1, 2**62 + 1).map(str), st.just("x")),
}


def check_unsafe(value: str) -> bool:
    try:
        check_name(value, "value", 10**6, allow_empty=True)
    except InvalidInput:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=values))
def test_decode_query_accepts_and_refuses_like_fastapi(params: dict[str, str]) -> None:
    ours = API.get("/ours", params=params)
    unsafe = [k for k, v in params.items() if check_unsafe(v)]
    if unsafe:  # beyond FastAPI: a control or bidi-control character in any value is refused (core.bounds)
        assert ours.status_code == 422 and ours.json()["error"]["field"] in unsafe
        return
    reference = API.get("/reference", params=params)
    assert ours.status_code == reference.status_code, (params, ours.json(), reference.json())
    if reference.status_code == 200:
        assert ours.json() == reference.json()
    else:
        assert ours.status_code == 422
        named = ours.json()["error"]["field"]
        if named in params:  # the parameter named is one FastAPI refuses too, alone on a valid query
            alone = API.get("/reference", params={"symbol": "A", named: params[named]})
            assert alone.status_code == 422 and alone.json()["error"]["field"] == named
        else:
            assert named == "symbol"  # the required one, missing


def test_a_missing_or_bad_parameter_is_named() -> None:
    r = API.get("/ours")
    assert r.status_code == 422 and r.json()["error"]["field"] == "symbol"
    r = API.get("/ours", params={"symbol": "A", "limit": "0"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit" and ">= 1" in r.json()["error"]["message"]
    r = API.get("/ours", params={"symbol": "A", "timeframe": "1x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "timeframe"
    assert API.get("/ours", params={"symbol": "A", "unknown": "1"}).status_code == 200
    assert API.get("/ours?symbol=A&symbol=B").json()["symbol"] == "B"  # the last one, as FastAPI takes it


def test_query_doc_documents_what_fastapi_documents() -> None:
    spec = API.app.openapi()["paths"]

    def plain(parameters: list[dict]) -> dict[str, dict]:
        out = {}
        for p in parameters:
            schema = {k: v for k, v in p["schema"].items() if k not in ("title", "description")}
            branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
            schema.update(*branches)
            out[p["name"]] = {"in": p["in"], "required": p["required"], "schema": schema,
                              "description": p.get("description")}
        return out

    assert plain(spec["/ours"]["get"]["parameters"]) == plain(spec["/reference"]["get"]["parameters"])

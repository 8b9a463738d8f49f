"""The bench harness on a fake case: registry, statistics, report shape, load-generator parsing."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nautilus.bench import harness
from nautilus.bench.harness import BenchContext, case, result, run_bench
from nautilus.bench.loadgen import generate, parse_wrk
from nautilus.bench.stats import median, p50_p99_us, percentile, sample, sig
from nautilus.core.errors import InvalidInput

FAKE = "fake_sum"
BROKEN = "fake_broken"


@pytest.fixture
def fake_cases() -> Iterator[None]:
    harness.load_cases()  # the real cases register first, as in a real run

    @case(FAKE, "adds numbers two ways")
    def fake_sum(ctx: BenchContext) -> list[dict]:
        params = {"quick": ctx.quick, "calls": ctx.latency_calls, "runs": ctx.runs(10)}
        return [
            result("ms", ("python sum", 8.0), ("numpy sum", 2.0), params, {"max_abs_diff": 0.0}),
            result("ms", ("python sum", 3.0), ("numpy sum, cached", 4.0), params),
        ]

    @case(BROKEN, "always fails")
    def fake_broken(ctx: BenchContext) -> dict:
        raise RuntimeError("boom")

    yield
    for name in (FAKE, BROKEN):
        harness.CASES.pop(name, None)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


# Registry -------------------------------------------------------------------------------------------
def test_registry_holds_the_real_cases_in_order() -> None:
    assert list(harness.load_cases())[:4] == ["engine_roundtrip", "shm_handoff", "gateway_load",
                                              "bars_range_query"]


def test_a_name_registers_once(fake_cases: None) -> None:
    assert harness.CASES[FAKE].description == "adds numbers two ways"
    with pytest.raises(ValueError, match="registered twice"):
        case(FAKE, "again")(lambda ctx: {})


def test_unknown_case_is_invalid_input(fake_cases: None) -> None:
    with pytest.raises(InvalidInput) as info:
        run_bench(only=["no_such_case", FAKE], console=quiet())
    assert info.value.field == "only"
    assert "no_such_case" in info.value.message and "engine_roundtrip" in info.value.message


def test_context_counts() -> None:
    assert BenchContext(quick=False).latency_calls == 10_000
    assert BenchContext(quick=True).latency_calls == 2_000
    assert BenchContext(quick=False).runs(15) == 15
    assert BenchContext(quick=False).runs(1) == 3
    assert BenchContext(quick=True).runs(15) == 3


# Statistics -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_percentiles_match_numpy(n: int) -> None:
    values = np.random.default_rng(n).lognormal(size=n)
    for q in (0, 1, 25, 50, 90, 99, 99.9, 100):
        assert percentile(list(values), q) == pytest.approx(np.percentile(values, q), rel=1e-12)
    assert median(list(values)) == pytest.approx(np.median(values), rel=1e-12)


def test_percentile_by_hand_and_bad_input() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    assert p50_p99_us([1e-6] * 50 + [3e-6] * 50) == (2.0, 3.0)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_sig_rounds_to_significant_digits() -> None:
    assert sig(123456.0) == 123500.0
    assert sig(0.000123456) == 0.0001235
    assert sig(2.0) == 2.0


def test_sample_warms_up_then_alternates_in_blocks() -> None:
    order: list[str] = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    out = sample(calls, 6, warmup=2, rounds=3)
    assert [len(out["a"]), len(out["b"])] == [6, 6]
    assert all(d >= 0 for d in out["a"] + out["b"])
    assert "".join(order) == "aabb" + "aabb" * 3
    assert len(sample(calls, 5, warmup=0, rounds=2)["a"]) == 5  # uneven blocks still give n


# Report -------------------------------------------------------------------------------------------
def test_run_bench_writes_json_and_markdown(fake_cases: None, tmp_path: Path) -> None:
    path = tmp_path / "out" / "bench.json"
    report = run_bench(quick=True, only=[FAKE], json_path=path, console=quiet())
    written = json.loads(path.read_text())
    assert written == report
    assert set(written) == {"machine", "cases"}
    assert {"cores", "backend", "python", "platform", "cpu model"} <= set(written["machine"])
    assert written["machine"]["quick"] is True
    first, second = written["cases"]
    assert list(first) == ["case", "unit", "baseline", "ours", "ratio", "params", "checks"]
    assert first == {
        "case": FAKE, "unit": "ms",
        "baseline": {"name": "python sum", "value": 8.0}, "ours": {"name": "numpy sum", "value": 2.0},
        "ratio": 4.0, "params": {"quick": True, "calls": 2_000, "runs": 3}, "checks": {"max_abs_diff": 0.0},
    }
    assert second["ratio"] == 0.75 and second["checks"] == {}
    markdown = path.with_suffix(".md").read_text()
    assert "| case | unit | baseline | ours | ratio | checks |" in markdown
    assert f"| {FAKE} | ms | python sum: 8 | numpy sum: 2 | 4 | max_abs_diff=0 |" in markdown


def test_without_json_path_nothing_is_written(fake_cases: None, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    console = quiet()
    run_bench(only=[FAKE], console=console)
    assert list(tmp_path.iterdir()) == []
    assert "numpy sum" in console.file.getvalue()  # type: ignore[attr-defined]


def test_a_failing_case_is_reported_and_exits_1(fake_cases: None, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as info:
        run_bench(only=[BROKEN, FAKE], json_path=path, console=quiet())
    assert info.value.code == 1
    written = json.loads(path.read_text())
    assert written["failed"] == [{"case": BROKEN, "error": "RuntimeError: boom"}]
    assert [row["case"] for row in written["cases"]] == [FAKE, FAKE]


def test_a_row_without_ours_is_rejected() -> None:
    with pytest.raises(ValueError, match="without ours"):
        harness.complete_row("x", {"unit": "s", "baseline": {"name": "b", "value": 1.0}})


# Load generation ----------------------------------------------------------------------------------
WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:28001/health
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.00us  120.00us   5.10ms   90.00%
    Req/Sec     9.50k   300.00     10.00k    70.00%
  Latency Distribution
     50%  380.00us
     75%  450.00us
     90%  520.00us
     99%    1.20ms
  47312 requests in 5.00s, 9.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   9462.40
Transfer/sec:      1.82MB
"""


def test_parse_wrk() -> None:
    assert parse_wrk(WRK_OUTPUT) == {"tool": "wrk", "requests": 47312, "errors": 7, "p50_ms": 0.38,
                                     "p99_ms": 1.2, "rps": 9462.0}
    seconds = WRK_OUTPUT.replace("1.20ms", "1.50s").replace("  Socket errors: connect 0, read 2, write 0, timeout 1\n",
                                                            "").replace("  Non-2xx or 3xx responses: 4\n", "")
    parsed = parse_wrk(seconds)
    assert (parsed["p99_ms"], parsed["errors"]) == (1500.0, 0)
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk("wrk: connection refused")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_python_load_generator_counts_responses_and_errors() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        ok = generate(f"{base}/ok", 2, 0.3, {"X-API-Key": "k"})
        missing = generate(f"{base}/missing", 1, 0.2, {})
    finally:
        server.shutdown()
        server.server_close()
    assert ok["tool"] == "python" and ok["requests"] > 0 and ok["errors"] == 0
    assert 0 < ok["p50_ms"] <= ok["p99_ms"]
    assert missing["requests"] > 0 and missing["errors"] == missing["requests"]


def test_pinned_puts_both_ends_on_one_cpu_and_restores_them() -> None:
    import os
    import subprocess
    import sys

    from nautilus.bench.procs import pinned

    before = os.sched_getaffinity(0)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pinned([child.pid]) as done:
            assert done
            assert len(os.sched_getaffinity(0)) == 1
            assert os.sched_getaffinity(child.pid) == os.sched_getaffinity(0)
        assert os.sched_getaffinity(0) == before
        assert os.sched_getaffinity(child.pid) == before
    finally:
        child.kill()
        child.wait()

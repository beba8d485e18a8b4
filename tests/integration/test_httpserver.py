"""The loopback HTTP/1.1 test server (tests/support/httpserver.py), exercised with a real
httpx client."""

from __future__ import annotations

import gzip
import queue
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.httpserver import LoopbackCluster, LoopbackServer, Recorded
from tests.support.httpserver import http_cluster as _http_cluster  # noqa: F401 - fixture (also in conftest)
from tests.support.httpserver import http_server as _http_server  # noqa: F401 - fixture (also in conftest)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = httpx.Timeout(5.0)


@contextmanager
def client(**kwargs: object) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT, trust_env=False, **kwargs) as c:  # type: ignore[arg-type]
        yield c


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --- plain responses ------------------------------------------------------------------------


def test_ok_body_content_type_and_keep_alive(http_server: LoopbackServer) -> None:
    http_server.add("/page", "<p>héllo</p>")
    http_server.add("/feed.json", b"{}", content_type="application/feed+json")
    with client() as c:
        first = c.get(http_server.url("/page"))
        second = c.get(http_server.url("/feed.json"), headers={"X-Test": "yes"})
        head = c.head(http_server.url("/page"))
    assert first.status_code == 200
    assert first.text == "<p>héllo</p>"
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert first.headers["content-length"] == str(len("<p>héllo</p>".encode()))
    assert second.headers["content-type"] == "application/feed+json"
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == first.headers["content-length"]

    records = http_server.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/page", 200),
        ("GET", "/feed.json", 200),
        ("HEAD", "/page", 200),
    ]
    assert records[1].headers["x-test"] == "yes"
    assert records[0].host == http_server.base_url.removeprefix("http://")
    assert records[0].server_address == "127.0.0.1"
    assert all(r.finished >= r.started > 0 for r in records)
    assert len({r.client for r in records}) == 1  # one kept-alive connection
    assert http_server.errors == []


def test_unknown_path_is_404(http_server: LoopbackServer) -> None:
    with client() as c:
        response = c.get(http_server.url("/nowhere"))
    assert response.status_code == 404
    assert [r.path for r in http_server.requests_for("/nowhere")] == ["/nowhere"]


def test_query_routes_and_changes_while_running(http_server: LoopbackServer) -> None:
    http_server.add("/feed", "any page")
    http_server.add("/feed?page=2", "page two")
    with client() as c:
        assert c.get(http_server.url("/feed?page=2")).text == "page two"
        assert c.get(http_server.url("/feed?page=3")).text == "any page"
        http_server.add("/feed", "changed")
        assert c.get(http_server.url("/feed")).text == "changed"
        http_server.remove("/feed")
        assert c.get(http_server.url("/feed")).status_code == 404
    assert len(http_server.requests_for("/feed")) == 4
    assert len(http_server.requests_for("/feed?page=2")) == 1


def test_dynamic_handler_sees_the_request(http_server: LoopbackServer) -> None:
    def echo(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 201, {"X-Method": request.method}, request.body[::-1]

    def broken(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        raise RuntimeError("handler bug")

    http_server.add("/echo", handler=echo)
    http_server.add("/broken", handler=broken)
    with client() as c:
        response = c.post(http_server.url("/echo"), content=b"abc")
        failed = c.get(http_server.url("/broken"))
    assert (response.status_code, response.headers["x-method"], response.content) == (
        201,
        "POST",
        b"cba",
    )
    assert failed.status_code == 500
    assert "handler bug" in failed.text
    assert [type(e) for e in http_server.errors] == [RuntimeError]


# --- conditional GET, gzip, redirects -------------------------------------------------------


def test_conditional_get_etag(http_server: LoopbackServer) -> None:
    http_server.add("/feed.xml", "<rss/>", etag='"v1"')
    with client() as c:
        fresh = c.get(http_server.url("/feed.xml"))
        same = c.get(http_server.url("/feed.xml"), headers={"If-None-Match": '"v1"'})
        weak_in_list = c.get(
            http_server.url("/feed.xml"), headers={"If-None-Match": '"v0", W/"v1"'}
        )
        changed = c.get(http_server.url("/feed.xml"), headers={"If-None-Match": '"v0"'})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"v1"'
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", '"v1"')
    assert weak_in_list.status_code == 304
    assert (changed.status_code, changed.text) == (200, "<rss/>")


def test_conditional_get_if_modified_since(http_server: LoopbackServer) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    http_server.add("/feed.xml", "<rss/>", last_modified=stamp)
    url = http_server.url("/feed.xml")
    with client() as c:
        fresh = c.get(url)
        same = c.get(url, headers={"If-Modified-Since": stamp})
        later = c.get(url, headers={"If-Modified-Since": "Thu, 22 Oct 2015 07:28:00 GMT"})
        earlier = c.get(url, headers={"If-Modified-Since": "Tue, 20 Oct 2015 07:28:00 GMT"})
    assert fresh.headers["last-modified"] == stamp
    assert (same.status_code, same.content) == (304, b"")
    assert later.status_code == 304
    assert (earlier.status_code, earlier.text) == (200, "<rss/>")


def test_gzip_body_is_decoded_by_httpx(http_server: LoopbackServer) -> None:
    text = "<p>compressible</p>" * 200
    http_server.add("/gz", text, gzip=True)
    with client() as c:
        response = c.get(http_server.url("/gz"))
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(text)
    assert response.text == text


def test_redirects(http_server: LoopbackServer) -> None:
    http_server.add("/old", redirect_to="/new")
    http_server.add("/moved", status=301, redirect_to=http_server.url("/new"))
    http_server.add("/new", "arrived")
    with client() as c:
        found = c.get(http_server.url("/old"))
        moved = c.get(http_server.url("/moved"))
    assert (found.status_code, found.headers["location"]) == (302, "/new")
    assert (moved.status_code, moved.headers["location"]) == (301, http_server.url("/new"))
    with client(follow_redirects=True) as c:
        followed = c.get(http_server.url("/old"))
    assert (followed.status_code, followed.text) == (200, "arrived")
    assert [str(r.url) for r in followed.history] == [http_server.url("/old")]


# --- misbehaving origins --------------------------------------------------------------------


def test_delay_before_status_line(http_server: LoopbackServer) -> None:
    http_server.add("/slow", "late", delay=0.2)
    with client() as c:
        began = time.monotonic()
        response = c.get(http_server.url("/slow"))
        elapsed = time.monotonic() - began
    assert response.text == "late"
    assert elapsed >= 0.2
    assert http_server.requests_for("/slow")[0].duration >= 0.2


def test_endless_body_stops_when_client_leaves(http_server: LoopbackServer) -> None:
    http_server.add("/endless", endless=True)
    with client() as c, c.stream("GET", http_server.url("/endless")) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received >= 1_000_000:
                break
    assert received >= 1_000_000
    record = http_server.requests_for("/endless")[0]
    assert wait_until(lambda: record.finished > 0), "handler still streaming to a closed socket"
    began = time.monotonic()
    http_server.stop()
    assert time.monotonic() - began < 1.0


def test_stop_is_quick_with_a_stalled_endless_client() -> None:
    server = LoopbackServer().start()
    server.add("/endless", endless=True)
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(f"GET /endless HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # never read further: the server blocks on a full socket buffer
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 1.5
    assert server.max_concurrency() == 1


def test_stop_interrupts_a_delay() -> None:
    server = LoopbackServer().start()
    server.add("/hang", delay=30)
    errors: list[Exception] = []

    def fetch() -> None:
        with client() as c:
            try:
                c.get(server.url("/hang"))
            except httpx.TransportError as exc:
                errors.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    assert wait_until(lambda: bool(server.requests))
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 1.0
    thread.join(5)
    assert [type(e) for e in errors] == [httpx.RemoteProtocolError]


def test_trickle_sends_the_body_slowly(http_server: LoopbackServer) -> None:
    http_server.add("/drip", b"0123456789", trickle=0.05, trickle_size=2)
    with client() as c:
        began = time.monotonic()
        with c.stream("GET", http_server.url("/drip")) as response:
            head_after = time.monotonic() - began
            chunks = list(response.iter_raw())
        elapsed = time.monotonic() - began
    assert b"".join(chunks) == b"0123456789"
    assert head_after < 0.15
    assert elapsed >= 0.2  # 5 pieces, 4 pauses
    assert len(chunks) >= 3


def test_reset_raises_a_transport_error(http_server: LoopbackServer) -> None:
    http_server.add("/reset", reset=True)
    with client() as c, pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        c.get(http_server.url("/reset"))
    assert http_server.requests_for("/reset")[0].status == 0


def test_raw_bytes_are_sent_verbatim(http_server: LoopbackServer) -> None:
    http_server.add("/garbage", raw=b"NOT HTTP AT ALL\r\n\r\n")
    http_server.add("/short", raw=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntoo short")
    http_server.add(
        "/exact", raw=b"HTTP/1.1 200 OK\r\nX-Odd:  spaced \r\nContent-Length: 2\r\n\r\nok"
    )
    with client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(http_server.url("/garbage"))
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(http_server.url("/short"))
        exact = c.get(http_server.url("/exact"))
    assert (exact.status_code, exact.headers["x-odd"], exact.content) == (200, "spaced", b"ok")
    assert set(exact.headers) == {"x-odd", "content-length"}


def test_gzip_bomb(http_server: LoopbackServer) -> None:
    began = time.monotonic()
    http_server.gzip_bomb("/bomb")  # 1 GB of zeros
    assert time.monotonic() - began < 2.0
    wanted = 4 * 1024 * 1024
    with client() as c, c.stream("GET", http_server.url("/bomb")) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) < 2_000_000
        inflater = zlib.decompressobj(wbits=31)
        inflated = 0
        for raw in response.iter_raw():
            pending = raw
            while pending and inflated < wanted:
                out = inflater.decompress(pending, wanted - inflated)
                assert out.count(0) == len(out)
                inflated += len(out)
                pending = inflater.unconsumed_tail
            if inflated >= wanted:
                break
    assert inflated == wanted


def test_gzip_bomb_is_a_valid_gzip_member(http_server: LoopbackServer) -> None:
    http_server.gzip_bomb("/small-bomb", decompressed_size=3 * 1024 * 1024 + 7)
    with client() as c:
        decoded = c.get(http_server.url("/small-bomb")).content
        with c.stream("GET", http_server.url("/small-bomb")) as response:
            raw = b"".join(response.iter_raw())
    assert decoded == gzip.decompress(raw) == bytes(3 * 1024 * 1024 + 7)


# --- concurrency and statistics -------------------------------------------------------------


def test_max_concurrency_counts_parallel_requests(http_server: LoopbackServer) -> None:
    http_server.add("/slow", "z", delay=0.3)
    with client(limits=httpx.Limits(max_connections=10)) as c, ThreadPoolExecutor(5) as pool:
        began = time.monotonic()
        statuses = list(pool.map(lambda _: c.get(http_server.url("/slow")).status_code, range(5)))
        elapsed = time.monotonic() - began
    assert statuses == [200] * 5
    assert elapsed < 1.0
    assert http_server.max_concurrency() == 5
    assert http_server.max_concurrency("127.0.0.1") == 5
    assert http_server.max_concurrency("example.org") == 0

    http_server.reset_stats()
    assert (http_server.requests, http_server.max_concurrency()) == ([], 0)
    with client() as c:
        for _ in range(3):
            c.get(http_server.url("/slow?again"))
    assert http_server.max_concurrency() == 1
    assert len(http_server.requests_for("/slow")) == 3


def test_whole_loopback_block_is_routable() -> None:
    for host in ("127.0.0.2", "127.1.2.3", "127.255.255.254"):
        with LoopbackServer(host) as server, client() as c:
            server.add("/", "here")
            assert c.get(server.url("/")).text == "here"
            assert server.requests[0].server_address == host


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "192.168.1.1", "localhost", ""])
def test_only_loopback_addresses_are_accepted(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoopbackServer(host)


def test_cluster_hosts_share_routes_with_separate_stats(http_cluster: LoopbackCluster) -> None:
    assert http_cluster.hosts == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    assert [url.split(":")[1] for url in http_cluster.base_urls] == [
        f"//{host}" for host in http_cluster.hosts
    ]
    http_cluster.add("/who", handler=lambda r: (200, {}, r.server_address.encode()))
    http_cluster.add("/slow", delay=0.3)
    with client(limits=httpx.Limits(max_connections=10)) as c:
        for index, host in enumerate(http_cluster.hosts):
            assert c.get(http_cluster.url("/who", index)).text == host
        with ThreadPoolExecutor(4) as pool:
            urls = [http_cluster.url("/slow", 1)] * 3 + [http_cluster.url("/slow", 0)]
            assert list(pool.map(lambda u: c.get(u).status_code, urls)) == [200] * 4

    assert http_cluster.max_concurrency() == 4
    assert http_cluster.max_concurrency("127.0.0.3") == 3
    assert http_cluster.max_concurrency(http_cluster.base_urls[1].removeprefix("http://")) == 3
    assert http_cluster.max_concurrency("127.0.0.2") == 1
    assert http_cluster.max_concurrency("127.0.0.5") == 1  # the /who request
    assert http_cluster[1].max_concurrency() == 3
    assert [r.server_address for r in http_cluster[1].requests] == ["127.0.0.3"] * 4
    assert len(http_cluster.requests) == 8
    assert {r.server_address for r in http_cluster.requests_for("/who")} == set(http_cluster.hosts)


# --- directories and subprocess mode --------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "index.html").write_text("<h1>home</h1>", encoding="utf-8")
    (tmp_path / "feeds" / "a.xml").write_text("<rss version='2.0'/>", encoding="utf-8")
    (tmp_path / "feeds" / "b.json").write_text('{"version": "1.1"}', encoding="utf-8")
    (tmp_path / "feeds" / "c.xml").write_text("<urlset/>", encoding="utf-8")
    return tmp_path


def test_serve_dir(http_server: LoopbackServer, site: Path) -> None:
    http_server.serve_dir(site)
    with client() as c:
        html = c.get(http_server.url("/index.html"))
        rss = c.get(http_server.url("/feeds/a.xml?utm=1"))
        feed_json = c.get(http_server.url("/feeds/b.json"))
        other_xml = c.get(http_server.url("/feeds/c.xml"))
        revalidated = c.get(
            http_server.url("/feeds/a.xml"), headers={"If-None-Match": rss.headers["etag"]}
        )
        escape = c.get(http_server.url("/../" + site.name + "/index.html"))
        missing = c.get(http_server.url("/feeds/"))
    assert (html.text, html.headers["content-type"]) == (
        "<h1>home</h1>",
        "text/html; charset=utf-8",
    )
    assert rss.headers["content-type"] == "application/rss+xml"
    assert feed_json.headers["content-type"] == "application/feed+json"
    assert other_xml.headers["content-type"] == "application/xml"
    assert revalidated.status_code == 304
    assert escape.status_code == 404
    assert missing.status_code == 404


def read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


@contextmanager
def serve_subprocess(args: list[str], ready_lines: int) -> Iterator[list[str]]:
    """Run ``python -m tests.support.httpserver ARGS``; yield the base URLs of its READY lines."""
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        [sys.executable, "-m", "tests.support.httpserver", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        reader = threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            output: list[str] = []
            deadline = time.monotonic() + 10
            while len([line for line in output if line.startswith("READY ")]) < ready_lines:
                try:
                    output.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    pytest.fail(f"no READY line within 10 s; output: {output}")
            yield [line.split()[1] for line in output if line.startswith("READY ")]
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            reader.join(5)
    assert process.returncode == 0


def test_subprocess_mode_serves_a_directory(site: Path) -> None:
    args = ["--host", "127.0.0.1", "--port", "0", "--routes-dir", str(site), "--delay", "0.1"]
    with serve_subprocess(args, ready_lines=1) as (base_url,), client() as c:
        assert base_url.startswith("http://127.0.0.1:")
        began = time.monotonic()
        response = c.get(base_url + "/feeds/a.xml")
        assert time.monotonic() - began >= 0.1
        assert response.status_code == 200
        assert response.text == "<rss version='2.0'/>"
        assert response.headers["content-type"] == "application/rss+xml"
        assert c.get(base_url + "/nope").status_code == 404


def test_subprocess_mode_on_several_hosts(site: Path) -> None:
    args = ["--hosts", "127.0.0.2,127.0.0.3", "--port", "0", "--routes-dir", str(site)]
    with serve_subprocess(args, ready_lines=2) as urls, client() as c:
        assert [url.rsplit(":", 1)[0] for url in urls] == ["http://127.0.0.2", "http://127.0.0.3"]
        for url in urls:
            assert c.get(url + "/index.html").text == "<h1>home</h1>"

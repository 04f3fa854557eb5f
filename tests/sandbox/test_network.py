"""Attacks on the network: the host's loopback, host Unix sockets, raw sockets.

Listeners run on the host and count what reaches them; the only thing the code may reach is a
fixture a grader started in the run's own network namespace.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cards.sandbox import NetworkNamespace, run_python
from tests.sandbox_helpers import HostListener, assert_tree_gone, run, token

pytestmark = pytest.mark.sandbox


@pytest.fixture
def listener(tmp_path: Path):
    host = HostListener().start(str(tmp_path))
    yield host
    host.stop()


ATTACK = """
    import socket, sys
    tcp_port, udp_port, abstract, unix_path = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    attempts = [
        (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", tcp_port)),
        (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.2", tcp_port)),
        (socket.AF_INET6, socket.SOCK_STREAM, ("::1", tcp_port)),
        (socket.AF_UNIX, socket.SOCK_STREAM, "\\0" + abstract),
        (socket.AF_UNIX, socket.SOCK_STREAM, unix_path),
    ]
    for family, kind, address in attempts:
        try:
            s = socket.socket(family, kind)
            s.settimeout(1)
            s.connect(address)
            print("CONNECTED", address)
        except OSError as exc:
            print("refused", address, exc)
    for address in (("127.0.0.1", udp_port),):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"udp-escape", address)
        except OSError as exc:
            print("refused udp", exc)
    for family, kind, proto in (
        (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP),
        (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        (socket.AF_PACKET, socket.SOCK_RAW, 0),
        (socket.AF_NETLINK, socket.SOCK_RAW, 0),
    ):
        try:
            s = socket.socket(family, kind, proto)
            print("RAW OPENED", family, proto)
            if family == socket.AF_INET:
                header = udp_port.to_bytes(2, "big") * 2 + (8 + 10).to_bytes(2, "big") + b"\\0\\0"
                s.sendto(header + b"raw-escape", ("127.0.0.1", 0))
        except OSError as exc:
            print("refused raw", family, exc)
"""


def _attack_args(listener: HostListener) -> list[str]:
    return [str(listener.tcp_port), str(listener.udp_port), listener.abstract_name, listener.unix_path]


def _run_attack(listener: HostListener, **kwargs):
    marker = token()
    result = run_python({"main.py": textwrap.dedent(ATTACK)}, args=[marker, *_attack_args(listener)], **kwargs)
    assert_tree_gone(marker)
    return result


def test_listener_itself_is_reachable_from_the_host(listener: HostListener) -> None:
    """The check can fail: the same attack run on the host does reach every listener."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ATTACK), "x", *_attack_args(listener)], capture_output=True, text=True
    )
    assert done.stdout.count("CONNECTED") == 4  # 127.0.0.2 has no listener
    time.sleep(0.3)
    hits = " ".join(listener.hits)
    assert hits.count("AF_INET") == 2 and hits.count("AF_UNIX") == 2
    assert "udp-escape" in hits and "raw-escape" in hits


def test_cannot_reach_host_loopback_unix_sockets_or_send_raw_packets(listener: HostListener) -> None:
    result = _run_attack(listener)
    assert result.status == "ok", result.stderr
    time.sleep(0.3)  # anything in flight would have arrived
    assert listener.hits == []


def test_fixture_in_the_runs_namespace_is_reachable_and_nothing_else(listener: HostListener, tmp_path: Path) -> None:
    server = tmp_path / "fixture.py"
    server.write_text(
        textwrap.dedent(
            """
            import http.server, sys
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = b'{"fixture": "' + self.path.encode() + b'"}'
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    print("served", self.path, flush=True)
                def log_message(self, *args):
                    pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        )
    )
    with NetworkNamespace() as ns:
        proc = ns.spawn([sys.executable, str(server)], stdout=subprocess.PIPE, text=True)
        port = int(proc.stdout.readline())
        result = run(
            f"""
            import httpx, requests
            print(httpx.get("http://127.0.0.1:{port}/via-httpx").json())
            print(requests.get("http://localhost:{port}/via-requests").json())
            """,
            netns=ns,
        )
        assert result.status == "ok", result.stderr
        attack = _run_attack(listener, netns=ns)
        proc.kill()
        served = proc.stdout.read()
    assert "served /via-httpx" in served and "served /via-requests" in served  # seen by the fixture itself
    assert attack.status == "ok", attack.stderr
    assert listener.hits == []
    assert not Path(f"/run/netns/{ns.name}").exists()


def test_host_fixture_port_is_not_reachable_without_the_namespace(tmp_path: Path) -> None:
    with NetworkNamespace() as ns:
        proc = ns.spawn([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], stdout=subprocess.PIPE)
        result = run(
            """
            import socket
            try:
                socket.create_connection(("127.0.0.1", 80), timeout=1)
            except OSError as exc:
                print(type(exc).__name__)
            import socket; print([n for _, n in socket.if_nameindex()])
            """
        )
        proc.kill()
    assert result.status == "ok", result.stderr
    assert result.stdout.splitlines()[-1] == "['lo']"

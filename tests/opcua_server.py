"""A small OPC UA server standing in for a DCS: detector tags `ns=2;s=<code>` holding numbers (asyncua).

Run it for the README's local example: `.venv/bin/python -m tests.opcua_server --port 4840 CH4-A=5.0 O2-A=20.9`
(values are fixed for the run; the tests change them with `DcsServer.set`).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Mapping

from asyncua import Server, ua

NAMESPACE = "urn:permit-service:demo-dcs"


class DcsServer:
    """An asyncua server on its own thread and event loop, with one variable per detector tag."""

    def __init__(self, port: int, tags: Mapping[str, float]) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/dcs/"
        self._tags = dict(tags)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="opcua-dcs", daemon=True)
        self._server: Server | None = None
        self._variables: dict[str, object] = {}
        self.namespace_index = 2

    def start(self) -> DcsServer:
        """Start serving (returns once the endpoint accepts connections)."""
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.namespace_index = await server.register_namespace(NAMESPACE)
        detectors = await server.nodes.objects.add_object(self.namespace_index, "Detectors")
        for code, value in self._tags.items():
            self._variables[code] = await detectors.add_variable(
                ua.NodeId(code, self.namespace_index), code, float(value)
            )
        await server.start()
        self._server = server

    def node_id(self, code: str) -> str:
        """The node id of a tag, as the reader's configuration names it."""
        return f"ns={self.namespace_index};s={code}"

    def set(self, code: str, value: float) -> None:
        """Write a new value to a tag."""
        self._run(self._variables[code].write_value(float(value)))  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop serving: the reader sees the server go quiet."""
        if self._server is not None:
            self._run(self._server.stop())
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self, coro) -> None:  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)


def main() -> None:
    """Serve the given tags until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4840)
    parser.add_argument("tags", nargs="+", help="CODE=VALUE, e.g. CH4-A=5.0")
    args = parser.parse_args()
    tags = {code: float(value) for code, value in (t.split("=", 1) for t in args.tags)}
    server = DcsServer(args.port, tags).start()
    print(f"serving {server.endpoint}: " + ", ".join(f"{server.node_id(c)}={v}" for c, v in tags.items()))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

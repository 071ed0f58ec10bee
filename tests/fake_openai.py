"""A local OpenAI-compatible HTTP server for tests: scripted replies, latency, failures, a request log.

Only `/v1/chat/completions` (and `/v1/models`) are served. The test supplies `reply(body) ->
(status, json)`; the default echoes a fixed assistant message. A test that needs a reply no JSON
can express (bytes that are not UTF-8, a body dripped a byte at a time) supplies `raw(handler, body)`,
which writes the whole HTTP response itself. Binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[dict], "tuple[int, dict]"]
RawReply = Callable[[BaseHTTPRequestHandler, dict], None]


def chat_completion(content: str, model: str = "fake") -> dict:
    """A minimal, valid chat.completion response body."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default listen backlog (5) resets connections from a 32-way concurrent client


class FakeOpenAI:
    def __init__(self, reply: Reply | None = None, latency: float = 0.0, raw: RawReply | None = None) -> None:
        self.reply: Reply = reply or (lambda body: (200, chat_completion("I cannot help with that.")))
        self.raw = raw
        self.latency = latency
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: avoid the 40 ms delayed-ACK stall

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                if server.latency:
                    time.sleep(server.latency)
                if server.raw is not None:
                    server.raw(self, body)
                    return
                status, payload = server.reply(body)
                self._send(status, payload)

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

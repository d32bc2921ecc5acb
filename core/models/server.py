"""A small OpenAI-compatible chat server on 127.0.0.1, for offline runs, tests and the demo.

``GET /v1/models`` and ``POST /v1/chat/completions`` (non-streaming), answered by a local
Hugging Face model (``HFClient``; the request's "max_tokens", "temperature" and "seed" are
honoured, the server's own settings are the defaults) or by scripted replies. A script is a list of steps, used in
order, one per chat request; after it runs out the model (or the last reply) answers:

- a string: that reply;
- ``{"status": 500}``: that HTTP status with an error body;
- ``{"sleep": 2.0}``: wait that long before answering (a time-out for short client time-outs);
- ``{"raw": "..."}``: that body as is (a malformed reply).

With ``api_key`` set, requests without ``Authorization: Bearer <key>`` get HTTP 401.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, client=None, script: list | None = None, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, model_name: str = "local"):
        self.client = client
        self.script = list(script or [])
        self.api_key = api_key
        self.model_name = model_name
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def next_step(self):
        with self.lock:
            if self.script:
                step = self.script.pop(0)
                if not self.script and isinstance(step, str) and self.client is None:
                    self.script.append(step)  # the last reply repeats
                return step
        return None

    def answer(self, body: dict) -> tuple[int, bytes]:
        step = self.next_step()
        if isinstance(step, dict):
            if "sleep" in step:
                time.sleep(float(step["sleep"]))
            elif "status" in step:
                return int(step["status"]), json.dumps({"error": {"message": "scripted"}}).encode()
            elif "raw" in step:
                return 200, str(step["raw"]).encode()
            step = step.get("reply")
        if isinstance(step, str):
            text, n_in, n_out = step, 0, len(step.split())
        elif self.client is not None:
            reply = self.client.complete(body.get("messages", []), seed=int(body.get("seed", 0)),
                                         max_tokens=body.get("max_tokens"),
                                         temperature=body.get("temperature", -1.0))
            text, n_in, n_out = reply.text, reply.input_tokens, reply.output_tokens
        else:
            text, n_in, n_out = "", 0, 0
        payload = {"id": "chatcmpl-local", "object": "chat.completion",
                   "model": body.get("model", self.model_name),
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text}}],
                   "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                             "total_tokens": n_in + n_out}}
        return 200, json.dumps(payload).encode()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _authorized(self) -> bool:
                if not server.api_key:
                    return True
                return self.headers.get("Authorization") == f"Bearer {server.api_key}"

            def do_GET(self):
                if not self._authorized():
                    return self._send(401, b'{"error": {"message": "bad key"}}')
                if self.path.rstrip("/").endswith("/models"):
                    data = {"object": "list", "data": [{"id": server.model_name,
                                                        "object": "model"}]}
                    return self._send(200, json.dumps(data).encode())
                self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                if not self._authorized():
                    return self._send(401, b'{"error": {"message": "bad key"}}')
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, b'{"error": {"message": "not found"}}')
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._send(400, b'{"error": {"message": "bad json"}}')
                with server.lock:
                    server.requests.append(body)
                status, data = server.answer(body)
                self._send(status, data)

        return Handler

    def start(self) -> "ChatServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

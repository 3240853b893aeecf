"""A fault-injecting HTTP proxy in front of a real OpenAI-compatible server.

The hosted-inference tests send requests to /{scenario}/{key}/v1/..., and the
proxy forwards them to the upstream server at /v1/... after injecting the
scenario's fault. `key` names one test, so each test sees its own "first
request"; GET /hits/{key} reports what the proxy saw for it: the number of
requests, the most in flight at once, and the headers of the last one.

Scenarios:
  pass              forward as is
  rate-limit-once   first request: 429 with Retry-After: 1
  loading-once      first request: 503 with the Hub's {"error", "estimated_time": 0.5}
  error-500-once    first request: 500
  error-500-always  every request: 500
  cut-once          first request: forward, but cut the connection after two stream events
  silent            never answer (until the client gives up; at most 30 s)
  unauthorized      401 with an OpenAI error object
  unauthorized-once first request: 401 (a failure no client retries), then forward
  slow              forward after 300 ms (to see how many requests are in flight)
  no-cors           forward, but with no CORS headers (the browser hides the answer)
  garbage           forward with max_tokens capped at 16 (the answer is thrown away, so
                    the server need not write it), then rewrite the model's answer to
                    "Rating: high" (a judge answering what no parser can read), streamed or not

It answers CORS preflights itself and exposes Retry-After to pages, as a
hosted API must for a browser client. Only the standard library is used; it
listens on 127.0.0.1 only.
"""

import argparse
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

STATE_LOCK = threading.Lock()
HITS = {}  # key -> {"count", "in_flight", "max_in_flight", "headers"}


def record(key, headers):
    with STATE_LOCK:
        hit = HITS.setdefault(key, {"count": 0, "in_flight": 0, "max_in_flight": 0, "headers": {}})
        hit["count"] += 1
        hit["in_flight"] += 1
        hit["max_in_flight"] = max(hit["max_in_flight"], hit["in_flight"])
        hit["headers"] = {name.lower(): value for name, value in headers.items()}
        return hit["count"]


def release(key):
    with STATE_LOCK:
        HITS[key]["in_flight"] -= 1


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # (host, port), set in main

    def log_message(self, *args):
        pass  # the tests read /hits; a line per request would drown their output

    def cors_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "authorization, content-type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Expose-Headers", "Retry-After")

    def answer(self, status, body, extra_headers=(), cors=True):
        data = json.dumps(body).encode()
        self.send_response(status)
        if cors:
            self.cors_headers()
        for name, value in extra_headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self):
        scenario = self.path.split("/")[1] if self.path.count("/") > 1 else ""
        self.send_response(204)
        if scenario != "no-cors":
            self.cors_headers()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.handle_any(None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.handle_any(self.rfile.read(length))

    def handle_any(self, body):
        parts = urlsplit(self.path).path.split("/")
        if len(parts) == 3 and parts[1] == "hits":
            with STATE_LOCK:
                hit = dict(HITS.get(parts[2], {"count": 0, "max_in_flight": 0, "headers": {}}))
            return self.answer(200, hit)
        if len(parts) < 4:
            return self.answer(404, {"error": {"message": f"no route {self.path}"}})
        scenario, key, rest = parts[1], parts[2], "/" + "/".join(parts[3:])
        attempt = record(key, self.headers)
        try:
            self.fault_then_forward(scenario, attempt, rest, body)
        finally:
            release(key)

    def fault_then_forward(self, scenario, attempt, path, body):
        if scenario == "rate-limit-once" and attempt == 1:
            error = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
            return self.answer(429, error, [("Retry-After", "1")])
        if scenario == "loading-once" and attempt == 1:
            return self.answer(503, {"error": "Model smollm2 is currently loading", "estimated_time": 0.5})
        if scenario == "error-500-always" or (scenario == "error-500-once" and attempt == 1):
            return self.answer(500, {"error": {"message": "Internal server error", "type": "server_error"}})
        if scenario == "unauthorized" or (scenario == "unauthorized-once" and attempt == 1):
            return self.answer(401, {"error": {"message": "Invalid credentials in Authorization header"}})
        if scenario == "silent":
            time.sleep(30)  # bounded: the test's client gives up long before
            self.close_connection = True
            return
        if scenario == "slow":
            time.sleep(0.3)
        if scenario == "garbage":
            return self.forward_rewritten(path, body, "Rating: high")
        cut_after_events = 2 if scenario == "cut-once" and attempt == 1 else None
        self.forward(path, body, cut_after_events, cors=scenario != "no-cors")

    def forward_rewritten(self, path, body, text):
        """Forwards, then replaces the answer's text with `text`: the first
        streamed piece carries it, the others are emptied; token counts and
        the rest of the answer stay as the server sent them."""
        request = json.loads(body)
        request["max_tokens"] = min(request.get("max_tokens") or 16, 16)
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        upstream.request("POST", path, body=json.dumps(request), headers={"Content-Type": "application/json"})
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        content_type = response.getheader("Content-Type", "application/json")
        if "text/event-stream" in content_type:
            events, written = [], False
            for event in data.decode().split("\n\n"):
                if event.startswith("data: ") and event != "data: [DONE]":
                    chunk = json.loads(event[len("data: "):])
                    for choice in chunk.get("choices", []):
                        delta = choice.get("delta", {})
                        if delta.get("content"):
                            delta["content"] = "" if written else text
                            written = True
                    event = "data: " + json.dumps(chunk)
                events.append(event)
            data = "\n\n".join(events).encode()
        elif response.status == 200:
            answer = json.loads(data)
            for choice in answer.get("choices", []):
                choice["message"]["content"] = text
            data = json.dumps(answer).encode()
        self.send_response(response.status)
        self.cors_headers()
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, path, body, cut_after_events, cors):
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        upstream.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = upstream.getresponse()
        self.send_response(response.status)
        if cors:
            self.cors_headers()
        self.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            events += chunk.count(b"\n\n")
            if cut_after_events is not None and events >= cut_after_events:
                # Cut mid-stream: close without the final zero-length chunk.
                self.close_connection = True
                upstream.close()
                return
        self.wfile.write(b"0\r\n\r\n")
        upstream.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the real server")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    Proxy.upstream = (host, int(port))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", args.port), Proxy).serve_forever()


if __name__ == "__main__":
    main()

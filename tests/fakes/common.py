"""Shared machinery of the loopback provider fakes: a threaded HTTP server on
127.0.0.1, a route table, a log of every request, and fault injection."""
import http
import json
import random
import re
import selectors
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1 << 20          # larger request bodies get 413
JOIN_TIMEOUT = 2.0          # bound on waiting for handler threads at stop()
GARBAGE = b'{"data": [{"id": "3f1c", "status": tru'


def is_digits(text):
    """True for a non-empty string of ASCII digits (str.isdigit() also takes
    "²", which int() refuses)."""
    return isinstance(text, str) and re.fullmatch(r"[0-9]+", text) is not None


def reason(status):
    """The standard reason phrase of an HTTP status ("Not Found")."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def iso_millis(ts):
    """Epoch seconds as RFC 3339 UTC with milliseconds: 2019-01-28T04:17:53.325Z."""
    whole = int(ts)
    millis = int((ts - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + \
        f".{millis:03d}Z"


class Response:
    """An HTTP answer: status, body bytes, and headers (Content-Type apart)."""

    def __init__(self, status, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})

    @classmethod
    def json(cls, obj, status=200, headers=None):
        """A JSON answer; `obj` is serialised compactly."""
        body = json.dumps(obj, separators=(",", ":")).encode()
        return cls(status, body, JSON, headers)

    @classmethod
    def html(cls, status, text):
        return cls(status, text.encode(), "text/html; charset=UTF-8")

    @classmethod
    def empty(cls, status=204):
        return cls(status)

    @classmethod
    def redirect(cls, location):
        return cls(302, b"", None, {"Location": location})

    @classmethod
    def raw(cls, status, body, headers=None):
        """`body` as given: dict/list become JSON, str/bytes are sent as is."""
        if isinstance(body, (dict, list)):
            return cls.json(body, status, headers)
        if isinstance(body, str):
            body = body.encode()
        return cls(status, body, "text/plain; charset=utf-8", headers)


class HttpError(Exception):
    """Raised by a route handler to answer with `response` at once."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


class Request:
    """One request as the fake received it; also the record kept in `calls`.

    `query` maps each parameter to its first value (`query_all` gives every
    value); header names are lower-cased; `body` is the raw bytes; `status`
    is the status the fake answered (None if it answered nothing)."""

    def __init__(self, method, target, headers, body):
        parts = urlsplit(target)
        self.method = method
        self.path = unquote(parts.path) or "/"
        self.query_string = parts.query
        self._query = parse_qs(parts.query, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self._query.items()}
        self.headers = headers
        self.body = body
        self.time = time.time()
        self.status = None

    def query_all(self, name):
        return list(self._query.get(name, []))

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self):
        """The media type without parameters, lower-cased ("" if absent)."""
        return self.header("content-type", "").split(";")[0].strip().lower()

    def json(self):
        """The body parsed as JSON; raises ValueError if it is not."""
        return json.loads(self.body.decode("utf-8"))

    def form(self):
        """The body parsed as a form (first value of each field)."""
        return {k: v[0] for k, v in self._form().items()}

    def form_all(self, name):
        return list(self._form().get(name, []))

    def _form(self):
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status}>"


class Fault:
    """One injected fault: which requests it hits and how often."""

    def __init__(self, kind, prefix, times, method=None, **what):
        self.kind = kind            # "fail", "delay", "garbage", "disconnect"
        self.prefix = prefix
        self.method = method
        self.remaining = times      # None: every matching request, forever
        self.what = what

    def matches(self, req):
        if self.method and self.method.upper() != req.method:
            return False
        return req.path.startswith(self.prefix)

    def use(self):
        """Counts one use; returns False once the fault is used up."""
        if self.remaining is not None:
            self.remaining -= 1
        return self.remaining is None or self.remaining > 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """Client hang-ups are normal here; say nothing on stderr."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as libcurl expects
    server_version = "fake"
    timeout = 30
    # One send per answer, without Nagle: on a kept-alive connection a
    # separate small body write waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = -1

    def setup(self):
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def _serve(self):
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format, *args):
        """Quiet: the fake's `calls` is the request log."""


class FakeProvider:
    """Base of every fake: a loopback HTTP server with a route table.

    Subclasses list their routes in `routes()` as (method, pattern, handler)
    where a pattern may hold `{name}` path segments passed to the handler as
    keyword arguments; a handler takes the Request and returns a Response or
    raises HttpError. Handlers run one at a time under `self.lock`, so they
    may touch the fake's state freely; injected delays happen outside it."""

    provider_id = None

    def __init__(self, seed=None):
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.internal_errors = []
        self._calls = []
        self._faults = []
        self._clock_offset = 0.0
        self._routes = None
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._wake = None
        self._port = None
        self._conns = {}

    # ---- lifecycle ----------------------------------------------------------
    def start(self):
        """Starts serving on 127.0.0.1 with an ephemeral port; returns the base
        URL ("http://127.0.0.1:PORT")."""
        if self._server is not None:
            raise RuntimeError("fake already started")
        self._routes = [_compile(*r) for r in self.routes()]
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._server.socket.setblocking(False)   # accept never blocks
        self._port = self._server.server_address[1]
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._accept_loop,
                                        name=f"fake-{self.provider_id}",
                                        daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self):
        """Stops accepting, drops open connections (waking delayed requests)
        and waits, bounded, for every server thread to end."""
        if self._server is None:
            return
        self._stopping.set()
        self._wake[1].send(b"x")
        self._thread.join(JOIN_TIMEOUT)
        with self.lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + JOIN_TIMEOUT
        for _, thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
        for sock in self._wake:
            sock.close()
        self._server = None

    def _accept_loop(self):
        """Accepts connections (one thread each) until stop() wakes it."""
        with selectors.DefaultSelector() as sel:
            sel.register(self._server, selectors.EVENT_READ)
            sel.register(self._wake[0], selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._server and \
                            not self._stopping.is_set():
                        self._server.handle_request()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        """The port of the last start() (kept after stop())."""
        return self._port

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base_url + path

    # ---- hooks for subclasses -----------------------------------------------
    def routes(self):
        """[(method, pattern, handler)] served by this fake."""
        return []

    def error_response(self, status, message, path):
        """The provider's error answer for `status` on `path`."""
        return Response.json({"error": reason(status), "message": message},
                             status)

    def fault_headers(self, status, path):
        """Headers the provider sends with an injected `status` (e.g. rate
        limit headers with a 429)."""
        return {}

    def grantd_config(self):
        """The `providers.<id>` section of grantd's config for this fake."""
        raise NotImplementedError

    # ---- helpers for handlers -----------------------------------------------
    def error(self, req, status, message):
        """An HttpError carrying the provider's error answer."""
        return HttpError(self.error_response(status, message, req.path))

    def json_body(self, req, kind=dict):
        """The request's JSON body (Content-Type application/json, of type
        `kind`); otherwise the provider's 400."""
        if req.content_type != JSON:
            raise self.error(req, 400, "Content-Type must be application/json")
        try:
            body = req.json()
        except ValueError:
            raise self.error(req, 400, "Malformed JSON body") from None
        if not isinstance(body, kind):
            raise self.error(req, 400, f"JSON body must be a {kind.__name__}")
        return body

    def now(self):
        """The fake's clock: wall time plus any advance_clock()."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds):
        """Moves the fake's clock forward (expires codes and tokens)."""
        with self.lock:
            self._clock_offset += seconds

    # ---- request log --------------------------------------------------------
    @property
    def calls(self):
        """Every request received so far, oldest first (a copy)."""
        with self.lock:
            return list(self._calls)

    def calls_to(self, path_prefix, method=None):
        """The recorded requests whose path starts with `path_prefix`."""
        return [c for c in self.calls if c.path.startswith(path_prefix)
                and (method is None or c.method == method.upper())]

    def clear_calls(self):
        with self.lock:
            self._calls.clear()

    def check(self):
        """Fails if any handler raised (a bug in the fake, answered 500)."""
        if self.internal_errors:
            raise AssertionError("fake %s crashed:\n%s" % (
                self.provider_id, "\n".join(self.internal_errors)))

    # ---- fault injection ----------------------------------------------------
    def fail(self, path_prefix, status, times=1, body=None, headers=None,
             method=None):
        """The next `times` requests under `path_prefix` (None: all of them)
        answer `status`, with the provider's error body and headers unless
        `body` (dict/list as JSON, str/bytes as is) or `headers` are given."""
        self._add_fault(Fault("fail", path_prefix, times, method, status=status,
                              body=body, headers=headers))

    def delay(self, path_prefix, seconds, times=None, method=None):
        """Requests under `path_prefix` wait `seconds` before being answered
        (the next `times` of them; None: all). Delays add up with one other
        fault, which is applied after the wait."""
        self._add_fault(Fault("delay", path_prefix, times, method,
                              seconds=seconds))

    def garbage(self, path_prefix, times=1, method=None):
        """The next `times` requests answer 200 with a body that is not JSON."""
        self._add_fault(Fault("garbage", path_prefix, times, method))

    def disconnect(self, path_prefix, times=1, method=None):
        """The next `times` requests get no answer: the connection closes."""
        self._add_fault(Fault("disconnect", path_prefix, times, method))

    def clear_faults(self):
        with self.lock:
            self._faults.clear()

    def _add_fault(self, fault):
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be at least 1 (or None)")
        with self.lock:
            self._faults.append(fault)

    def _take_faults(self, req):
        """Consumes the faults this request meets: (total delay, the first
        answering fault or None)."""
        wait, answer = 0.0, None
        with self.lock:
            for fault in list(self._faults):
                if not fault.matches(req):
                    continue
                if fault.kind == "delay":
                    wait += fault.what["seconds"]
                elif answer is None:
                    answer = fault
                else:
                    continue
                if not fault.use():
                    self._faults.remove(fault)
        return wait, answer

    def _fault_response(self, fault, req):
        if fault.kind == "garbage":
            return Response(200, GARBAGE, JSON)
        status, body = fault.what["status"], fault.what["body"]
        headers = dict(self.fault_headers(status, req.path))
        headers.update(fault.what["headers"] or {})
        if body is None:
            resp = self.error_response(status, reason(status), req.path)
        else:
            resp = Response.raw(status, body)
        resp.headers.update(headers)
        return resp

    # ---- serving ------------------------------------------------------------
    def _track(self, sock, opened):
        with self.lock:
            if opened:
                self._conns[sock] = threading.current_thread()
            else:
                self._conns.pop(sock, None)

    def _serve(self, h):
        """Answers one request on handler `h`: record, faults, route."""
        try:
            body = _read_body(h)
        except _BodyError as e:
            h.close_connection = True
            path = unquote(urlsplit(h.path).path)
            _send(h, self.error_response(e.status, e.message, path))
            return
        req = Request(h.command, h.path, _headers(h), body)
        with self.lock:
            self._calls.append(req)
        wait, fault = self._take_faults(req)
        if wait and self._stopping.wait(wait):
            h.close_connection = True
            return
        if fault is not None and fault.kind == "disconnect":
            h.close_connection = True
            return
        resp = (self._fault_response(fault, req) if fault is not None
                else self._dispatch(req))
        req.status = resp.status
        _send(h, resp)

    def _dispatch(self, req):
        """Runs the route handler for `req`; 404/405 for unknown routes and a
        500 in the provider's shape (recorded in internal_errors) if the
        handler itself fails."""
        path = req.path.rstrip("/") or "/"
        allowed = []
        try:
            for method, regex, handler in self._routes:
                m = regex.match(path)
                if m is None:
                    continue
                if method != req.method:
                    allowed.append(method)
                    continue
                with self.lock:
                    return handler(req, **m.groupdict())
            if allowed:
                resp = self.error_response(405, "Method Not Allowed", req.path)
                resp.headers["Allow"] = ", ".join(allowed)
                return resp
            return self.error_response(404, "Not Found", req.path)
        except HttpError as e:
            return e.response
        except Exception:
            with self.lock:
                self.internal_errors.append(traceback.format_exc())
            return self.error_response(500, "Internal Server Error", req.path)


def _compile(method, pattern, handler):
    """A route pattern "/a/{name}/b" as a regex with named groups."""
    parts = re.split(r"\{(\w+)\}", pattern.rstrip("/"))
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)"
                    for i, p in enumerate(parts))
    return method, re.compile(f"^{regex}$"), handler


def _headers(h):
    """The request headers with lower-cased names (repeats joined by ", ")."""
    out = {}
    for name, value in h.headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _BodyError(Exception):
    """A request body that cannot be read (answered in the provider's shape)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _read_body(h):
    """The request body (Content-Length or chunked), at most MAX_BODY bytes."""
    if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(h.rfile)
    try:
        length = int(h.headers.get("Content-Length", "0"))
    except ValueError:
        raise _BodyError(400, "Bad Content-Length") from None
    if length < 0:
        raise _BodyError(400, "Bad Content-Length")
    if length > MAX_BODY:
        raise _BodyError(413, "Request body too large")
    return h.rfile.read(length)


def _read_chunked(rfile):
    body = b""
    for _ in range(MAX_BODY + 1):       # at least one byte per chunk
        line = rfile.readline(1024).split(b";")[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise _BodyError(400, "Bad chunk size") from None
        if size == 0:
            for _ in range(100):                   # trailers, then CRLF
                if not rfile.readline(1024).strip():
                    break
            return body
        if len(body) + size > MAX_BODY:
            raise _BodyError(413, "Request body too large")
        body += rfile.read(size)
        rfile.readline(8)                          # CRLF after the chunk
    raise _BodyError(413, "Request body too large")


def _send(h, resp):
    """Writes `resp` on handler `h`; a client that hung up is not an error."""
    try:
        h.send_response(resp.status)
        if resp.content_type:
            h.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            h.send_header(name, str(value))
        if resp.status not in (204, 304):
            h.send_header("Content-Length", str(len(resp.body)))
        if h.close_connection:
            h.send_header("Connection", "close")
        h.end_headers()
        if resp.status not in (204, 304):
            h.wfile.write(resp.body)
        h.wfile.flush()
    except OSError:
        h.close_connection = True

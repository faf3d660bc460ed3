"""An HTTP authentication endpoint that checks mqseal CONNECT tokens (docs/SPEC.md section 11).

    python http_auth.py CREDENTIALS_FILE PORT [REPLAY_STORE]
    (REPLAY_STORE may instead come from the environment variable MQSEAL_REPLAY_STORE)

For brokers that ask an HTTP service whether a client may connect (EMQX's HTTP
authentication, mosquitto-go-auth's HTTP backend, ...). Listens on 127.0.0.1
only (PORT 0: any free port; the port is logged). Standard library only, besides mqseal.

    POST /mqtt/auth   {"username": "...", "password": "<token>", "clientid": "..."}
    200 {"result": "allow"}                        the token is good (and now used up)
    403 {"result": "deny", "reason": "<code>"}     refused: mqseal's error code (malformed,
                                                   authentication_failed, replay, expired, ...;
                                                   an unknown username gets authentication_failed,
                                                   as a wrong token does), or client_id_not_owned
    403 {"result": "deny", "reason": "client_id_not_owned"}  the client ID is neither the username
                                                   nor starts with it and '/' (the token is not
                                                   looked at, so not used up)
    400 {"result": "deny", "reason": "bad_request"}  the body is not such a JSON object

Broker settings: POST with a JSON body of those three fields. mosquitto-go-auth:
http_params_mode json, http_response_mode status. EMQX 5 treats any status but
200 and 204 as "ignore" and asks the next authenticator of its chain, refusing
the client only if this one is the last; to make the refusal final there, build
the server with make_server(..., deny_status=200): the body says "deny".

Client IDs belong to their devices, as with the mosquitto plugin's default
(plugin_opt_client_ids own): a broker gives a client ID, and its persistent session, to
the newest login presenting it, so a device with its own valid token could otherwise
disconnect another device by using its ID. A device's client ID must be its username, or
start with its username and '/' (usernames hold no '/'). Unlike the plugin, this endpoint
does not see logins the broker's other authenticators allow: give those users client IDs
no device owns, or have the broker map client IDs to usernames.

The password is never logged: each decision logs one line with the username,
client ID and outcome (logger "mqseal.http_auth"). Tokens are single-use: a
broker that retries a request it already sent gets "replay" the second time.
Requests are served by one thread each (ThreadingHTTPServer); TokenVerifier.verify
is thread-safe, and a token is accepted once however many requests race with it.

REPLAY_STORE says where used tokens are remembered (docs/DEPLOY.md): "memory" (the
default: a restart forgets them, so a captured token is accepted once more after one),
"file:PATH" (a file store that survives restarts of this one process; PATH in a
directory only this user may write, such as a 0700 one: not /tmp), or
"redis://[[user]:password@]host[:port][/db]" (a Redis server that several endpoints
share: a token is accepted once over all of them; logins are refused while Redis is
unreachable). A Redis password should come from the environment, MQSEAL_REPLAY_STORE (used when
no REPLAY_STORE argument is given), not the command line, which every local user can read in
the process list; the URL's password is never logged (a store that cannot be opened is logged
by its scheme and host only). File and Redis stores are sized devices x max_tokens_per_user. A whole broker
cluster can call one endpoint; several endpoints need the Redis store to share what they
remember.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple, cast

import mqseal

__all__ = [
    "AUTH_PATH", "AuthHandler", "AuthServer", "decide", "main", "make_server", "open_store", "owns", "store_for_log",
]

STORE_VARIABLE = "MQSEAL_REPLAY_STORE"  # the replay store when no REPLAY_STORE argument is given

AUTH_PATH = "/mqtt/auth"
MAX_BODY_BYTES = 256 * 1024
"""Larger bodies get 413. Room for a 65 535-byte client ID as plain JSON text; one made of
control characters escapes to 6 bytes each (about 393 KB) and is refused."""

_log = logging.getLogger("mqseal.http_auth")

Answer = Tuple[int, Dict[str, str]]
"""An HTTP status and the JSON object to send with it."""


def owns(username: str, client_id: str) -> bool:
    """Whether the device `username` owns `client_id`: the username itself, or it and '/' then anything."""
    return client_id == username or client_id.startswith(username + "/")


def decide(verifier: mqseal.TokenVerifier, body: bytes, *, deny_status: int = HTTPStatus.FORBIDDEN) -> Answer:
    """The answer to one request body: allow, deny with mqseal's error code, or bad_request (400)."""
    fields = _parse(body)
    if fields is None:
        return HTTPStatus.BAD_REQUEST, {"result": "deny", "reason": "bad_request"}
    username, password, client_id = fields
    # Before the token: a refused ID uses up no token, and the answer is the same whether
    # the username is provisioned or not.
    if not owns(username, client_id):
        _log.info("deny user %s (client %s): client_id_not_owned", _printable(username), _printable(client_id))
        return deny_status, {"result": "deny", "reason": "client_id_not_owned"}
    try:
        verifier.verify(username, client_id, password)
    except mqseal.Error as error:
        _log.info("deny user %s (client %s): %s", _printable(username), _printable(client_id), error.code)
        return deny_status, {"result": "deny", "reason": error.code}
    _log.info("allow user %s (client %s)", _printable(username), _printable(client_id))
    return HTTPStatus.OK, {"result": "allow"}


class AuthServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the TokenVerifier its AuthHandlers share."""

    daemon_threads = True

    def __init__(self, address: Tuple[str, int], verifier: mqseal.TokenVerifier, deny_status: int) -> None:
        """Binds and listens on `address`; see make_server()."""
        self.verifier = verifier
        self.deny_status = deny_status
        super().__init__(address, AuthHandler)


class AuthHandler(BaseHTTPRequestHandler):
    """Answers POST AUTH_PATH; anything else gets 404 (other paths) or 501 (other methods)."""

    protocol_version = "HTTP/1.1"  # keep-alive: brokers keep a pool of connections
    timeout = 30  # seconds an idle connection is kept
    wbufsize = 16 * 1024  # headers and body in one write: two would wait for a delayed ACK (Nagle)
    server: AuthServer

    def do_POST(self) -> None:
        """Reads the JSON body and answers with decide()."""
        if self.path != AUTH_PATH:
            self.close_connection = True
            self._answer(HTTPStatus.NOT_FOUND, {"result": "deny", "reason": "not_found"})
            return
        length = self._content_length()
        if length is None:
            self.close_connection = True  # the body, if any, was not read
            self._answer(HTTPStatus.BAD_REQUEST, {"result": "deny", "reason": "bad_request"})
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"result": "deny", "reason": "bad_request"})
            return
        body = self.rfile.read(length)
        if len(body) != length:  # the client went away
            self.close_connection = True
            return
        self._answer(*decide(self.server.verifier, body, deny_status=self.server.deny_status))

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: http.server would log request lines, which a misconfigured broker (GET with
        the password in the URL) could fill with passwords. decide() logs each decision."""

    def _content_length(self) -> Optional[int]:
        if "Transfer-Encoding" in self.headers:
            return None  # chunked bodies are not supported
        text = self.headers.get("Content-Length", "")
        if not text.isdigit() or not text.isascii():
            return None
        return int(text)

    def _answer(self, status: int, answer: Dict[str, str]) -> None:
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def make_server(
    verifier: mqseal.TokenVerifier,
    port: int,
    host: str = "127.0.0.1",
    *,
    deny_status: int = HTTPStatus.FORBIDDEN,
) -> AuthServer:
    """A bound server (not yet serving: call serve_forever(), and shutdown() from another thread).

    Port 0 picks a free port: see server.server_address. `deny_status` is the status of a
    refusal (403; 200 for EMQX 5, whose authenticator chain reads 4xx as "ignore").
    """
    return AuthServer((host, port), verifier, int(deny_status))


def open_store(spec: str, credentials: mqseal.Credentials) -> mqseal.ReplayStore:
    """The replay store REPLAY_STORE names: "memory", "file:PATH" or "redis://..."

    File and Redis stores hold devices x max_tokens_per_user claims.
    """
    if spec == "memory":
        return mqseal.memory_replay_store()
    capacity = max(1, len(credentials)) * mqseal.VerifierOptions().max_tokens_per_user
    if spec.startswith("file:") and len(spec) > len("file:"):
        return mqseal.file_replay_store(spec[len("file:") :], capacity=capacity)
    if spec.startswith("redis://"):
        return mqseal.redis_replay_store(spec, capacity=capacity)
    raise mqseal.InvalidArgumentError(
        f"unknown replay store {store_for_log(spec)!r}: memory, file:PATH or redis://...", "invalid_argument"
    )


def store_for_log(spec: str) -> str:
    """A REPLAY_STORE for log lines: a Redis URL's scheme and host only (its user:password,
    which may hold '/' and '@', and everything else left out)."""
    if not spec.startswith("redis"):
        return spec
    scheme, sep, rest = spec.partition("://")
    if not sep:
        return "redis (not a redis:// URL)"
    return scheme + "://" + rest.rpartition("@")[2].partition("/")[0]


def main(argv: List[str]) -> int:
    """python http_auth.py CREDENTIALS_FILE PORT [REPLAY_STORE]: serves until interrupted."""
    if len(argv) not in (3, 4) or not argv[2].isdigit():
        print(__doc__.split("\n\n")[1].strip() if __doc__ else "", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        credentials = mqseal.Credentials.load(argv[1])  # refuses a file readable by group or others
    except mqseal.Error as error:
        _log.error("cannot load %s: %s (%s)", argv[1], error, error.code)
        return 1
    store_spec = argv[3] if len(argv) == 4 else os.environ.get(STORE_VARIABLE) or "memory"
    try:
        store = open_store(store_spec, credentials)  # a file store: corrupt, foreign or locked files are refused
    except mqseal.Error as error:
        _log.error("cannot open the replay store %s: %s (%s)", store_for_log(store_spec), error, error.code)
        return 1
    server = make_server(mqseal.TokenVerifier(credentials, replay_store=store), int(argv[2]))
    _log.info("%d devices; listening on http://127.0.0.1:%d%s", len(credentials), server.server_address[1], AUTH_PATH)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _parse(body: bytes) -> Optional[Tuple[str, str, str]]:
    """username, password and clientid from a JSON object, or None if they are not all strings."""
    try:
        request = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):  # json.JSONDecodeError is a ValueError
        return None
    if not isinstance(request, dict):
        return None
    fields = [cast(Dict[str, object], request).get(name) for name in ("username", "password", "clientid")]
    strings = [field for field in fields if isinstance(field, str)]
    if len(strings) != 3:
        return None
    try:
        for text in strings:
            text.encode("utf-8")  # JSON allows lone surrogates ("\ud800"), which are not UTF-8
    except UnicodeEncodeError:
        return None
    return strings[0], strings[1], strings[2]


def _printable(text: str, limit: int = 64) -> str:
    """For log lines: quoted, printable ASCII only (others as ?), at most `limit` characters."""
    shown = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return f"'{shown}{'...' if len(text) > limit else ''}'"


if __name__ == "__main__":
    sys.exit(main(sys.argv))

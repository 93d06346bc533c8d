"""gatehouse's Python worker: runs a WSGI application (PEP 3333) in a daemon group.

The front spawns it with the control channel on fd 3 (one JSON object per line, both ways) and
talks to it over a unix socket in the framed protocol of docs/protocol.md, exactly as to a Node
worker: HELLO with the group secret first, then requests multiplexed as streams under credit
flow control. Standard library only, Python 3.9 or later.

Threads: the main thread reads the control channel, one thread per data connection reads
frames, and a fixed pool of `threads` threads runs the application, one request each at a time.
"""
import grp
import hashlib
import hmac
import inspect
import json
import os
import pwd
import re
import signal
import socket
import stat
import struct
import sys
import threading
import traceback
import types
from collections import deque
from queue import SimpleQueue
from urllib.parse import quote, unquote_to_bytes

PROTOCOL_VERSION = 1
CONTROL_FD = 3
MAX_CONTROL_LINE_BYTES = 1024 * 1024

HELLO, HELLO_OK, HEAD, DATA, END, RESPONSE_HEAD, ERROR, CREDIT, CALL, RESULT = range(1, 11)
HEADER = struct.Struct('>IBI')
LENGTH = struct.Struct('>I')
TYPE_ID = struct.Struct('>BI')
MAX_FRAME_BYTES = 8 * 1024 * 1024
MAX_DATA_BYTES = 256 * 1024
# Payloads up to this size are copied behind their frame header and leave in one sendall();
# larger ones go as a second sendall() rather than be copied.
JOIN_BYTES = 64 * 1024
# Bytes other threads may leave to the thread writing to a connection before they wait for it.
QUEUED_BYTES = 1024 * 1024
STREAM_WINDOW = 1024 * 1024
INIT_TIMEOUT_S = 30

STATUS_RE = re.compile(r'^[1-5][0-9][0-9] ')
TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# RFC 9110 §7.6.1: a gateway's own business; PEP 3333 forbids applications to send them.
HOP_BY_HOP = frozenset(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'])


# The benchmark's profiling switch (bench/run.ts --profile-python): every thread of this process
# runs under cProfile and the merged statistics go to this directory when the process exits.
PROFILE_DIR = os.environ.get('GATEHOUSE_PYTHON_PROFILE_DIR')
profiles = []


def profiled(fn):
    """fn, run under a cProfile of its own when profiling is on."""
    if not PROFILE_DIR:
        return fn

    def run(*args):
        import cProfile
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()
        return fn(*args)
    return run


def dump_profiles():
    if not PROFILE_DIR or not profiles:
        return
    import pstats
    stats = None
    for prof in profiles:
        # Snapshot without disabling: the profiled threads are still running.
        prof.snapshot_stats()
        if stats is None:
            stats = pstats.Stats(prof)
        else:
            stats.add(prof)
    stats.dump_stats(os.path.join(PROFILE_DIR, 'python-%d.prof' % os.getpid()))


class ProtocolError(Exception):
    """A peer broke the framed protocol: that connection is closed."""


class ClientGone(OSError):
    """The front cancelled the stream (the client went away or the request timed out)."""


# ── control channel ─────────────────────────────────────────────────────────────────────────

class Control:
    """fd 3: newline-delimited JSON. Writes come from any thread, so they are serialized."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.lock = threading.Lock()
        self.open = True
        self._buf = b''

    def send(self, msg):
        data = (json.dumps(msg, separators=(',', ':')) + '\n').encode('utf-8')
        try:
            with self.lock:
                self.sock.sendall(data)
        except OSError:
            self.open = False

    def read(self):
        """The next message (a dict), or None when the front closed its end."""
        while True:
            nl = self._buf.find(b'\n')
            if nl != -1:
                line, self._buf = self._buf[:nl], self._buf[nl + 1:]
                if not line:
                    continue
                msg = json.loads(line.decode('utf-8'))
                if not isinstance(msg, dict):
                    raise ValueError('control message is not an object')
                return msg
            if len(self._buf) > MAX_CONTROL_LINE_BYTES:
                raise ValueError('control line too long')
            chunk = self.sock.recv(65536)
            if not chunk:
                self.open = False
                return None
            self._buf += chunk


control = None


def log(level, msg, **fields):
    if control is not None and control.open:
        control.send({'type': 'log', 'level': level, 'msg': msg, 'fields': fields})
    else:
        sys.stderr.write('gatehouse worker: %s: %s %s\n' % (level, msg, fields))


# ── environ (PEP 3333) ──────────────────────────────────────────────────────────────────────

def split_path(url, script_name):
    """(SCRIPT_NAME, PATH_INFO, QUERY_STRING) of a request target.

    PATH_INFO is percent-decoded to bytes and read as latin-1 (PEP 3333's "bytes as str"): the
    application re-encodes it with latin-1 to get the octets the client sent. SCRIPT_NAME is the
    route's prefix, split off when the decoded path starts with it at a segment boundary.
    """
    path, _, query = url.partition('?')
    # Without a %-escape an ASCII path decodes to itself.
    decoded = path if '%' not in path and path.isascii() else unquote_to_bytes(path).decode('latin-1')
    if script_name and (decoded == script_name or decoded.startswith(script_name + '/')):
        return script_name, decoded[len(script_name):], query
    return script_name, decoded, query


# Request header name → environ key ('' for a name that is left out); bounded, as names come from clients.
ENVIRON_KEYS = {}
MAX_ENVIRON_KEYS = 512


def environ_key(name):
    key = ENVIRON_KEYS.get(name)
    if key is None:
        if '_' in name:
            # As Apache 2.4: X_Remote_User must not pass for X-Remote-User once both read HTTP_X_REMOTE_USER.
            key = ''
        else:
            key = name.upper().replace('-', '_')
            if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                key = 'HTTP_' + key
        if len(ENVIRON_KEYS) < MAX_ENVIRON_KEYS:
            ENVIRON_KEYS[name] = key
    return key


def build_environ(head, base):
    gateway = head.get('gateway') or {}
    script_name = gateway.get('scriptName') or ''
    if script_name == '/':
        script_name = ''
    script_name, path_info, query = split_path(head['url'], script_name)
    environ = dict(base)
    environ.update({
        'REQUEST_METHOD': head['method'],
        'SCRIPT_NAME': script_name,
        'PATH_INFO': path_info,
        'QUERY_STRING': query,
        'REQUEST_URI': head['url'],
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'REMOTE_ADDR': head.get('remoteAddress') or '',
        'SERVER_PORT': str(gateway.get('serverPort') or ''),
        'wsgi.url_scheme': gateway.get('scheme') or 'http',
    })
    for name, value in head['headers'].items():
        key = ENVIRON_KEYS.get(name) or environ_key(name)
        if not key:
            continue
        if value.__class__ is not str:
            value = ('; ' if key == 'HTTP_COOKIE' else ', ').join(value)
        environ[key] = value
    host = environ.get('HTTP_HOST', '')
    if host.startswith('['):
        server_name = host[:host.find(']') + 1]
    else:
        server_name = host.rsplit(':', 1)[0] if ':' in host else host
    environ['SERVER_NAME'] = server_name or gateway.get('serverName') or 'localhost'
    if gateway.get('remoteUser') is not None:
        environ['REMOTE_USER'] = gateway['remoteUser']
        if gateway.get('authType'):
            environ['AUTH_TYPE'] = gateway['authType']
    return environ


# ── streams ─────────────────────────────────────────────────────────────────────────────────

def frame(ftype, sid, payload=b''):
    return HEADER.pack(len(payload) + 5, ftype, sid) + payload


class Stream:
    """One request: its body arriving as DATA (wsgi.input) and its response leaving under credit."""

    def __init__(self, conn, sid, head):
        self.conn = conn
        self.id = sid
        self.head = head
        # Over a plain Lock: Condition's default RLock costs more to make, once per request.
        self.cond = threading.Condition(threading.Lock())
        self.chunks = deque()
        self.eof = not head.get('body', False)
        self.cancelled = False
        self.unacked = 0
        self.credit = STREAM_WINDOW

    # front → worker
    def feed(self, data):
        with self.cond:
            if self.cancelled or self.eof:
                return
            self.chunks.append(bytes(data))
            self.cond.notify_all()

    def finish(self):
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def cancel(self):
        with self.cond:
            self.cancelled = True
            self.chunks.clear()
            self.cond.notify_all()

    def grant(self, n):
        with self.cond:
            self.credit += n
            self.cond.notify_all()

    # wsgi.input
    def take(self, limit):
        """Up to `limit` bytes (all of one chunk when limit < 0); b'' at the end of the body."""
        with self.cond:
            while not self.chunks and not self.eof and not self.cancelled:
                self._return_credit()
                self.cond.wait()
            if self.cancelled:
                raise ClientGone('request cancelled by the front')
            if not self.chunks:
                return b''
            chunk = self.chunks.popleft()
            if 0 <= limit < len(chunk):
                self.chunks.appendleft(chunk[limit:])
                chunk = chunk[:limit]
            self.unacked += len(chunk)
            if self.unacked >= STREAM_WINDOW // 4:
                self._return_credit()
            return chunk

    def _return_credit(self):
        if self.unacked > 0 and not self.eof:
            self.conn.send(CREDIT, self.id, struct.pack('>I', self.unacked))
        self.unacked = 0

    # response
    def send_data(self, data, before=b'', after=b''):
        """DATA frames of `data` under credit. `before` (frames held back: the response head)
        leaves in the same write as the first piece, `after` (END) with the last one."""
        view = memoryview(data)
        last = len(view) - MAX_DATA_BYTES
        for off in range(0, len(view), MAX_DATA_BYTES):
            piece = view[off:off + MAX_DATA_BYTES]
            with self.cond:
                while self.credit <= 0 and not self.cancelled:
                    self.cond.wait()
                if self.cancelled:
                    raise ClientGone('request cancelled by the front')
                self.credit -= len(piece)
            if not self.conn.send(DATA, self.id, piece, before, after if off >= last else b''):
                raise ClientGone('connection to the front closed')
            before = b''


class Input:
    """wsgi.input: reads the body as it arrives, never more than the front sends."""

    def __init__(self, stream):
        self._stream = stream
        self._buf = b''

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self._buf]
            self._buf = b''
            while True:
                chunk = self._stream.take(-1)
                if not chunk:
                    return b''.join(parts)
                parts.append(chunk)
        if len(self._buf) >= size:
            out, self._buf = self._buf[:size], self._buf[size:]
            return out
        parts = [self._buf]
        have = len(self._buf)
        self._buf = b''
        while have < size:
            chunk = self._stream.take(size - have)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        return b''.join(parts)

    def readline(self, size=-1):
        while b'\n' not in self._buf and (size is None or size < 0 or len(self._buf) < size):
            chunk = self._stream.take(-1)
            if not chunk:
                break
            self._buf += chunk
        end = self._buf.find(b'\n') + 1 or len(self._buf)
        if size is not None and 0 <= size < end:
            end = size
        out, self._buf = self._buf[:end], self._buf[end:]
        return out

    def readlines(self, hint=None):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class ErrorStream:
    """wsgi.errors: what the application writes goes to the front's log, one record per flush
    (and at the end of the request), so that a traceback printed line by line is one record."""

    MAX_RECORD = 32 * 1024

    def __init__(self):
        self._buf = ''

    def write(self, text):
        self._buf += text
        if len(self._buf) > self.MAX_RECORD:
            self.flush()
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        text = self._buf.rstrip()
        self._buf = ''
        if text:
            log('warn', text, stream='wsgi.errors')


# ── wsgi.file_wrapper ───────────────────────────────────────────────────────────────────────

class FileWrapper:
    """wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling"). When the file is a
    regular file under the group's fileRoots, the front sends it from disk (Range, ETag,
    conditionals) and its bytes never cross the socket; otherwise it is iterated in blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        close = getattr(filelike, 'close', None)
        if close is not None:
            self.close = close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


def file_on_disk(wrapper, roots):
    """(path, offset) of a wrapped regular file under one of `roots`, else None."""
    f = wrapper.filelike
    name = getattr(f, 'name', None)
    if not roots or not isinstance(name, str) or not hasattr(f, 'fileno') or not hasattr(f, 'tell'):
        return None
    try:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        path = os.path.realpath(name)
        # The path must still be the open file (not renamed or replaced since it was opened).
        if not os.path.samestat(os.stat(path), os.fstat(f.fileno())):
            return None
        offset = f.tell()
    except (OSError, ValueError):
        return None
    for root in roots:
        real_root = os.path.realpath(root)
        if path.startswith(real_root.rstrip('/') + '/'):
            return path, offset
    return None


# ── running one request ─────────────────────────────────────────────────────────────────────

BAD_VALUE = re.compile('[\r\n\0]').search
# Response header names that passed the checks → lower case; bounded, as applications may make names up.
CHECKED_NAMES = {}


def checked_name(name):
    lower = CHECKED_NAMES.get(name)
    if lower is None:
        if not TOKEN_RE.match(name):
            raise ValueError('start_response: invalid header %r' % (name,))
        lower = name.lower()
        if lower in HOP_BY_HOP:
            raise ValueError('start_response: hop-by-hop header %r is the server\'s to send (PEP 3333)' % (name,))
        if len(CHECKED_NAMES) < MAX_ENVIRON_KEYS:
            CHECKED_NAMES[name] = lower
    return lower


def check_headers(status, headers):
    if not isinstance(status, str) or not STATUS_RE.match(status) or '\r' in status or '\n' in status:
        raise ValueError('start_response: status must be a str like "200 OK", got %r' % (status,))
    if not isinstance(headers, list):
        raise TypeError('start_response: headers must be a list of (name, value) tuples')
    out = {}
    for item in headers:
        if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str) or not isinstance(item[1], str):
            raise TypeError('start_response: each header must be a (str, str) tuple, got %r' % (item,))
        name, value = item
        lower = checked_name(name)
        if BAD_VALUE(value):
            raise ValueError('start_response: invalid header %r' % (name,))
        if lower in out:
            prior = out[lower]
            out[lower] = (prior if isinstance(prior, list) else [prior]) + [value]
        else:
            out[lower] = value
    return int(status[:3]), out


class Exchange:
    """start_response, write() and the result iterable of one request (PEP 3333 §"The start_response() Callable")."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = None
        self.sent = False
        # The RESPONSE_HEAD frame, encoded but held back to leave in one write with the first
        # body bytes (or END): one sendall() per small response, one read for the front.
        self.held = b''

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent and not self.held:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
            # A head still held back never reached the front: it is replaced (PEP 3333).
            self.sent = False
            self.held = b''
        elif self.pending is not None:
            raise AssertionError('start_response called a second time without exc_info')
        self.pending = check_headers(status, headers)
        return self.write

    def send_head(self, content_length=None):
        if self.sent:
            return
        if self.pending is None:
            raise AssertionError('the application returned data before calling start_response')
        status, headers = self.pending
        if content_length is not None and 'content-length' not in headers:
            headers['content-length'] = str(content_length)
        self.sent = True
        self.held = frame(RESPONSE_HEAD, self.stream.id, json.dumps({'status': status, 'headers': headers}).encode('utf-8'))

    def write(self, data):
        """PEP 3333's write() callable: the bytes go out before it returns."""
        self.send(data)
        self.flush()

    def send(self, data, last=False):
        """Body bytes with the held head; `last`: END goes in the same write."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError('write() takes bytes, got %s' % type(data).__name__)
        self.send_head()
        if data:
            held, self.held = self.held, b''
            self.stream.send_data(data, held, frame(END, self.stream.id) if last else b'')
            return last
        return False

    def flush(self):
        if self.held:
            held, self.held = self.held, b''
            if not self.stream.conn.send_raw(held):
                raise ClientGone('connection to the front closed')

    def end(self):
        """The held head (if any) and END, in one write."""
        self.send_head()
        held, self.held = self.held, b''
        self.stream.conn.send_raw(held + frame(END, self.stream.id))


def run_request(app, base, stream, file_roots=()):
    head = stream.head
    environ = build_environ(head, base)
    environ['wsgi.input'] = Input(stream)
    error_stream = ErrorStream()
    environ['wsgi.errors'] = error_stream
    environ['wsgi.file_wrapper'] = FileWrapper
    ex = Exchange(stream)
    result = None
    try:
        result = app(environ, ex.start_response)
        on_disk = file_on_disk(result, file_roots) if isinstance(result, FileWrapper) and ex.pending is not None and not ex.sent else None
        if on_disk is not None:
            status, headers = ex.pending
            path, offset = on_disk
            headers = {k: v for k, v in headers.items() if k != 'content-length'}
            headers['x-gatehouse-file'] = quote(path, safe='')
            headers['x-gatehouse-file-offset'] = str(offset)
            length = dict(ex.pending[1]).get('content-length')
            if isinstance(length, str) and length.isdigit():
                headers['x-gatehouse-file-length'] = length
            ex.pending = (status, headers)
            ex.end()
            return
        ended = False
        if isinstance(result, (list, tuple)):
            # One item: its length is known, so the front need not chunk it.
            if len(result) == 1 and isinstance(result[0], (bytes, bytearray)):
                ex.send_head(len(result[0]))
            # A sequence's last item is known: END leaves with it.
            last = len(result) - 1
            for i, chunk in enumerate(result):
                if not isinstance(chunk, (bytes, bytearray)):
                    raise TypeError('the application yielded %s, not bytes' % type(chunk).__name__)
                if chunk:
                    ended = ex.send(chunk, i == last)
        else:
            for chunk in result:
                if not isinstance(chunk, (bytes, bytearray)):
                    raise TypeError('the application yielded %s, not bytes' % type(chunk).__name__)
                if chunk:
                    ex.send(chunk)
        if not ended:
            ex.end()
    except ClientGone:
        pass
    except Exception as err:
        log('error', 'application failed on %s: %s: %s' % (head['method'], type(err).__name__, err),
            traceback=traceback.format_exc())
        if stream.cancelled:
            pass
        elif not ex.sent or ex.held:
            # The head never left (held back for the first body bytes): the client gets a 500 instead.
            body = b'Internal Server Error\n'
            stream.conn.send_raw(frame(RESPONSE_HEAD, stream.id, json.dumps({'status': 500, 'headers': {
                'content-type': 'text/plain; charset=utf-8', 'content-length': str(len(body))}}).encode('utf-8'))
                + frame(DATA, stream.id, body) + frame(END, stream.id))
        else:
            stream.conn.send(ERROR, stream.id, json.dumps({'code': 'APP_ABORTED', 'message': 'the application failed after the response head'}).encode('utf-8'))
    finally:
        error_stream.flush()
        close = getattr(result, 'close', None)
        if close is not None:
            try:
                close()
            except Exception as err:
                log('error', 'close() of the response failed: %s: %s' % (type(err).__name__, err), traceback=traceback.format_exc())
        stream.conn.forget(stream.id)


# ── mod_wsgi auth scripts as the group's provider ─────────────────────────────────────────

# The Provider contract's methods (docs/providers.md) and mod_wsgi's names for them.
AUTH_FUNCTIONS = [
    ('checkPassword', 'check_password'),
    ('getRealmHash', 'get_realm_hash'),
    ('groupsForUser', 'groups_for_user'),
    ('allowAccess', 'allow_access'),
]
ALGORITHMS = ('MD5', 'SHA-256', 'SHA-512-256')
HEX_RE = re.compile(r'^[0-9a-fA-F]+$')


class BadResult(Exception):
    """The script answered a value of the wrong type; the message names its kind only."""


def describe_value(value):
    if value is None:
        return 'None'
    if isinstance(value, (str, bytes)):
        return 'a %s of %d characters' % (type(value).__name__, len(value))
    return 'a value of type %s' % type(value).__name__


def accepts_algorithm(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == 'algorithm' or p.kind == inspect.Parameter.VAR_KEYWORD for p in params)


def auth_environ(ctx, base):
    """The environ an auth script sees: the request's, without its body (mod_wsgi's is the same)."""
    path = ctx.get('path') or '/'
    environ = build_environ({'method': ctx.get('method') or 'GET', 'url': path, 'headers': ctx.get('headers') or {},
                             'remoteAddress': ctx.get('remoteAddress') or ''}, base)
    if ctx.get('host'):
        environ['HTTP_HOST'] = environ.get('HTTP_HOST', ctx['host'])
    environ['gatehouse.route'] = ctx.get('route') or ''
    environ['gatehouse.realm'] = ctx.get('realm') or ''
    return environ


class AuthScript:
    """A mod_wsgi auth script (WSGIAuthUserScript, WSGIAuthGroupScript, WSGIAccessScript),
    unchanged, answering the front's provider calls with mod_wsgi's return conventions."""

    def __init__(self, module, base):
        self.base = base
        self.functions = {}
        for method, name in AUTH_FUNCTIONS:
            fn = getattr(module, name, None)
            if callable(fn):
                self.functions[method] = fn
        if not self.functions:
            raise TypeError('%s defines none of %s' % (module.__file__, ', '.join(n for _, n in AUTH_FUNCTIONS)))
        realm_hash = self.functions.get('getRealmHash')
        self.realm_hash_algorithms = realm_hash is not None and accepts_algorithm(realm_hash)

    @property
    def methods(self):
        return [m for m, _ in AUTH_FUNCTIONS if m in self.functions]

    def call(self, method, args):
        fn = self.functions.get(method)
        if fn is None or not isinstance(args, list) or not args or not isinstance(args[0], dict):
            return {'ok': False, 'code': 'GH_ERR_PROVIDER_FAILED', 'message': 'no such provider method or malformed call'}
        environ = auth_environ(args[0], self.base)
        name = dict(AUTH_FUNCTIONS)[method]
        try:
            if method == 'checkPassword':
                value = self.check_password(fn, environ, args[1], args[2])
            elif method == 'getRealmHash':
                value = self.get_realm_hash(fn, environ, args[1], args[2], args[3])
            elif method == 'groupsForUser':
                value = self.groups_for_user(fn, environ, args[1])
            else:
                value = self.allow_access(fn, environ, args[1])
        except BadResult as err:
            log('error', '%s returned %s' % (name, err))
            return {'ok': False, 'code': 'GH_ERR_PROVIDER_BAD_RESULT', 'message': str(err)}
        except Exception as err:
            text = traceback.format_exc()
            password = args[2] if method == 'checkPassword' and len(args) > 2 and isinstance(args[2], str) else ''
            if password:
                # The script's own message may quote the password it was given.
                text = text.replace(password, '[redacted]')
            log('error', '%s raised %s' % (name, type(err).__name__), traceback=text)
            return {'ok': False, 'code': 'GH_ERR_PROVIDER_FAILED', 'message': '%s raised %s' % (name, type(err).__name__)}
        return {'ok': True, 'value': value}

    @staticmethod
    def check_password(fn, environ, user, password):
        # mod_wsgi: True, False, None (no such user), or a string: the user name to use instead.
        value = fn(environ, user, password)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, bytes):
            value = decode_name(value)
        if isinstance(value, str) and value:
            return value
        raise BadResult(describe_value(value) + ', expected True, False, None or a user name')

    def get_realm_hash(self, fn, environ, user, realm, algorithm):
        if algorithm not in ALGORITHMS:
            raise BadResult('unknown algorithm')
        if self.realm_hash_algorithms:
            value = fn(environ, user, realm, algorithm=algorithm)
        elif algorithm == 'MD5':
            value = fn(environ, user, realm)
        else:
            # mod_wsgi's get_realm_hash is MD5 only: a script without `algorithm` knows no user in another.
            return None
        if value is None:
            return None
        if isinstance(value, bytes):
            value = decode_name(value)
        if isinstance(value, str) and HEX_RE.match(value) and len(value) == (32 if algorithm == 'MD5' else 64):
            return value.lower()
        raise BadResult(describe_value(value) + ', expected None or the %s hex digest' % algorithm)

    @staticmethod
    def groups_for_user(fn, environ, user):
        # Django's groups_for_user answers bytes (mod_wsgi accepts both).
        value = fn(environ, user)
        if not isinstance(value, (list, tuple)):
            raise BadResult(describe_value(value) + ', expected a list of group names')
        out = []
        for g in value:
            if isinstance(g, bytes):
                g = decode_name(g)
            if not isinstance(g, str):
                raise BadResult('a list holding %s, expected group names' % describe_value(g))
            out.append(g)
        return out

    @staticmethod
    def allow_access(fn, environ, host):
        value = fn(environ, host)
        if value is None or isinstance(value, bool):
            return value
        raise BadResult(describe_value(value) + ', expected True, False or None')


def decode_name(raw):
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise BadResult('bytes that are not UTF-8')


# ── data connections ────────────────────────────────────────────────────────────────────────

class Connection:
    def __init__(self, sock, worker):
        self.sock = sock
        self.worker = worker
        self.wlock = threading.Lock()
        # Frames other threads left for the one writing now (see send_raw), under qlock.
        self.qlock = threading.Lock()
        self.queued = []
        self.queued_bytes = 0
        self.writing = False
        self.streams = {}
        self.slock = threading.Lock()
        self.closed = False

    def send(self, ftype, sid, payload=b'', before=b'', after=b''):
        """Sends one frame, with `before` and `after` (whole frames) around it in the same
        write; False once the connection is closed."""
        header = HEADER.pack(len(payload) + 5, ftype, sid)
        if len(payload) <= JOIN_BYTES:
            return self.send_raw(b''.join((before, header, payload, after)))
        return self.send_raw(before + header, payload, after)

    def send_raw(self, *parts):
        """Sends encoded frames (each part whole, or parts that make whole frames together).

        While another thread is writing, the frames are left to it (up to QUEUED_BYTES) and
        this one goes on: it writes them after its own, in order, in one sendall(). So threads
        answering at the same time do not each wait for the lock (a sleep and a wake-up each)
        and the front reads their answers at once."""
        if self.closed:
            return False
        with self.qlock:
            if self.writing and self.queued_bytes < QUEUED_BYTES:
                self.queued.extend(parts)
                self.queued_bytes += sum(map(len, parts))
                return True
        try:
            with self.wlock:
                self.writing = True
                try:
                    for part in parts:
                        if part:
                            self.sock.sendall(part)
                    while True:
                        with self.qlock:
                            if not self.queued:
                                # In the same hold as the check: nothing can be left behind.
                                self.writing = False
                                break
                            out, self.queued, self.queued_bytes = self.queued, [], 0
                        self.sock.sendall(b''.join(out))
                except BaseException:
                    with self.qlock:
                        self.writing = False
                    raise
            return True
        except OSError:
            self.close()
            return False

    def forget(self, sid):
        with self.slock:
            self.streams.pop(sid, None)

    @property
    def active(self):
        with self.slock:
            return len(self.streams)

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # Under the write lock: no sender is inside sendall() on the fd while it closes. (The
        # shutdown above already made any blocked sendall() fail.) The fd itself closes once
        # the reader's file object is closed too (run()'s finally).
        with self.wlock:
            self.sock.close()
        with self.slock:
            streams = list(self.streams.values())
            self.streams.clear()
        for s in streams:
            s.cancel()

    def run(self):
        rfile = self.sock.makefile('rb', buffering=256 * 1024)
        try:
            greeted = False
            while True:
                prefix = rfile.read(4)
                if len(prefix) < 4:
                    return
                (length,) = LENGTH.unpack(prefix)
                # Checked before reading on: a bad length is refused without waiting for bytes that may never come.
                if length < 5 or length > MAX_FRAME_BYTES:
                    raise ProtocolError('frame length %d' % length)
                rest = rfile.read(length)
                if len(rest) < length:
                    return
                ftype, sid = TYPE_ID.unpack_from(rest)
                payload = memoryview(rest)[5:]
                if not greeted:
                    if ftype != HELLO or not self.worker.check_secret(payload):
                        raise ProtocolError('the first frame must be HELLO with the group secret')
                    greeted = True
                    self.send(HELLO_OK, 0, json.dumps({'v': PROTOCOL_VERSION, 'pid': os.getpid()}).encode())
                    continue
                self.dispatch(ftype, sid, payload)
        except (ProtocolError, ValueError, KeyError, TypeError) as err:
            log('warn', 'data connection closed: %s' % err)
        except OSError:
            pass
        finally:
            self.close()
            rfile.close()
            self.worker.connections.discard(self)

    def dispatch(self, ftype, sid, payload):
        if ftype == HEAD:
            head = json.loads(bytes(payload).decode('utf-8'))
            if (not isinstance(head, dict) or not isinstance(head.get('method'), str) or not isinstance(head.get('url'), str)
                    or not isinstance(head.get('headers'), dict)):
                raise ProtocolError('malformed request head')
            with self.slock:
                if sid in self.streams:
                    raise ProtocolError('stream %d is already open' % sid)
                stream = Stream(self, sid, head)
                self.streams[sid] = stream
            self.worker.jobs.put((self.worker.run_request, stream))
            return
        if ftype == CALL:
            auth = self.worker.auth
            if auth is None:
                self.send(RESULT, sid, json.dumps({'ok': False, 'code': 'GH_ERR_PROVIDER_UNAVAILABLE', 'message': 'group has no provider'}).encode())
                return
            call = json.loads(bytes(payload).decode('utf-8'))
            if not isinstance(call, dict) or not isinstance(call.get('method'), str) or not isinstance(call.get('args'), list):
                raise ProtocolError('malformed call')
            # On the request threads: a script that blocks (a database, LDAP) must not stall this reader.
            self.worker.jobs.put((self.worker.run_call, (self, sid, call)))
            return
        if ftype not in (DATA, END, ERROR, CREDIT):
            raise ProtocolError('unexpected frame type %d' % ftype)
        with self.slock:
            stream = self.streams.get(sid)
        if stream is None:
            return
        if ftype == DATA:
            stream.feed(payload)
        elif ftype == END:
            stream.finish()
        elif ftype == ERROR:
            self.forget(sid)
            stream.cancel()
        elif len(payload) == 4:
            stream.grant(struct.unpack('>I', payload)[0])


class Worker:
    def __init__(self, init):
        self.init = init
        self.secret_digest = hashlib.sha256(bytes.fromhex(init['secret'])).digest()
        self.connections = set()
        # SimpleQueue: put and get are C code, a cheaper hand-off than Queue's Python-level Condition.
        self.jobs = SimpleQueue()
        self.app = None
        self.auth = None
        self.file_roots = [r for r in (init.get('fileRoots') or []) if isinstance(r, str)]
        self.base = None
        self.listener = None

    def check_secret(self, candidate):
        # Both sides hashed to equal length first, then compared in constant time.
        return hmac.compare_digest(hashlib.sha256(candidate).digest(), self.secret_digest)

    def listen(self):
        path = self.init['socketPath']
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(previous)
        sock.listen(64)
        self.listener = sock

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            c = Connection(conn, self)
            self.connections.add(c)
            threading.Thread(target=profiled(c.run), name='gatehouse-conn', daemon=True).start()

    def start_threads(self, n):
        for i in range(n):
            threading.Thread(target=profiled(self.thread_main), name='gatehouse-request-%d' % i, daemon=True).start()

    def thread_main(self):
        while True:
            fn, stream = self.jobs.get()
            try:
                fn(stream)
            except Exception:
                log('error', 'request thread failed', traceback=traceback.format_exc())

    def run_request(self, stream):
        run_request(self.app, self.base, stream, self.file_roots)

    def run_call(self, job):
        conn, sid, call = job
        try:
            result = self.auth.call(call['method'], call['args'])
        except Exception as err:
            log('error', 'provider call failed', traceback=traceback.format_exc())
            result = {'ok': False, 'code': 'GH_ERR_PROVIDER_FAILED', 'message': type(err).__name__}
        try:
            data = json.dumps(result).encode('utf-8')
        except (TypeError, ValueError):
            data = json.dumps({'ok': False, 'code': 'GH_ERR_PROVIDER_BAD_RESULT', 'message': 'not representable'}).encode('utf-8')
        conn.send(RESULT, sid, data)

    @property
    def active(self):
        return sum(c.active for c in list(self.connections))


def load_module(path, prefix):
    """Executes a script file as a module of its own, named after its path, compiled from source
    each time and never cached as bytecode beside it (as mod_wsgi does with its script files)."""
    name = prefix + hashlib.md5(path.encode('utf-8')).hexdigest()
    module = types.ModuleType(name)
    module.__file__ = path
    with open(path, 'rb') as f:
        code = compile(f.read(), path, 'exec', dont_inherit=True)
    sys.modules[name] = module
    exec(code, module.__dict__)
    return module


def load_application(module):
    app = getattr(module, 'application', None)
    if not callable(app):
        raise TypeError('%s: defines no callable `application`' % module.__file__)
    return app


def drop_privileges(user, group):
    if user is None and group is None:
        return
    if os.getuid() != 0:
        if user is not None and user not in (str(os.getuid()), pwd.getpwuid(os.getuid()).pw_name):
            raise PermissionError('cannot switch to user %s: not started as root' % user)
        return
    if user is None:
        raise PermissionError('a group is configured without a user; refusing to keep running as root')
    entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    gid = entry.pw_gid if group is None else (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    os.initgroups(entry.pw_name, gid)
    os.setgid(gid)
    os.setuid(entry.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise PermissionError('still root after setuid(%s)' % user)
    try:
        os.setuid(0)
    except OSError:
        return
    raise PermissionError('setuid(0) succeeded after dropping privileges')


def boot(init):
    if init.get('v') != PROTOCOL_VERSION:
        raise RuntimeError('protocol version %r, expected %d' % (init.get('v'), PROTOCOL_VERSION))
    worker = Worker(init)
    worker.listen()
    drop_privileges(init.get('user'), init.get('unixGroup'))
    for entry in reversed(init.get('pythonPath') or []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    threads = int(init.get('threads') or 15)
    worker.base = {
        'wsgi.version': (1, 0),
        'wsgi.multithread': threads > 1,
        'wsgi.multiprocess': bool(init.get('multiprocess', True)),
        'wsgi.run_once': False,
        'SERVER_SOFTWARE': 'gatehouse',
        'GATEWAY_INTERFACE': 'CGI/1.1',
        'gatehouse.group': init['group'],
    }
    app_module = load_module(init['app'], '_gatehouse_wsgi_')
    worker.app = load_application(app_module)
    provider = init.get('provider')
    if provider:
        # Django's documentation points WSGIAuthUserScript at the site's wsgi.py itself: one module, loaded once.
        auth_module = app_module if os.path.realpath(provider) == os.path.realpath(init['app']) else load_module(provider, '_gatehouse_auth_')
        worker.auth = AuthScript(auth_module, worker.base)
    worker.start_threads(threads)
    threading.Thread(target=worker.accept_loop, name='gatehouse-accept', daemon=True).start()
    return worker


def shutdown(worker, grace_ms):
    """Stops accepting, lets open requests finish (up to the grace), then exits."""
    try:
        worker.listener.close()
    except OSError:
        pass
    deadline = grace_ms / 1000.0
    waited = 0.0
    while worker.active > 0 and waited < deadline:
        threading.Event().wait(0.02)
        waited += 0.02
    exit_now(0)


def exit_now(code):
    try:
        dump_profiles()
    except Exception:
        traceback.print_exc()
    if worker_socket is not None:
        try:
            os.unlink(worker_socket)
        except OSError:
            pass
    os._exit(code)


worker_socket = None


def handle_signals(state):
    """As the Node worker: while the front is there, a first SIGTERM/SIGINT and any SIGHUP are
    the front's to act on (it drains and stops this process); a second one exits at once."""
    def on_signal(signum, _frame):
        if state['ignored'] or state['shutdown'] or not control.open:
            exit_now(128 + signum)
        state['ignored'] = True
        log('info', '%s ignored: the front stops this process (a second signal exits at once)' % signal.Signals(signum).name)

    def on_hup(signum, _frame):
        if not control.open:
            exit_now(128 + signum)
        log('info', 'SIGHUP ignored: the front decides about reloads')

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)


def main():
    global control, worker_socket
    try:
        control = Control(CONTROL_FD)
    except OSError:
        sys.stderr.write('gatehouse worker: must be spawned by the supervisor (no control channel on fd %d)\n' % CONTROL_FD)
        sys.exit(2)
    # The worker's own directory is not the application's to import from.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]
    state = {'ignored': False, 'shutdown': False}
    handle_signals(state)
    control.sock.settimeout(INIT_TIMEOUT_S)
    try:
        init = control.read()
    except (OSError, ValueError):
        exit_now(2)
    control.sock.settimeout(None)
    if init is None or init.get('type') != 'init':
        exit_now(2)
    worker_socket = init.get('socketPath')
    try:
        worker = boot(init)
    except BaseException as err:
        log('error', 'worker failed to start: %s: %s' % (type(err).__name__, err), traceback=traceback.format_exc())
        control.send({'type': 'failed', 'code': 'GH_ERR_GROUP_FAILED', 'message': '%s: %s' % (type(err).__name__, err)})
        exit_now(1)
    ready = {'type': 'ready', 'pid': os.getpid()}
    if worker.auth is not None:
        ready['providerMethods'] = worker.auth.methods
    control.send(ready)
    while True:
        try:
            msg = control.read()
        except (OSError, ValueError) as err:
            sys.stderr.write('gatehouse worker: control channel: %s\n' % err)
            exit_now(2)
        if msg is None:
            # The front went away: no daemon outlives it.
            exit_now(0)
        if msg.get('type') == 'shutdown':
            state['shutdown'] = True
            grace = msg.get('graceMs')
            shutdown(worker, grace if isinstance(grace, (int, float)) and grace >= 0 else 0)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""A mesh agent in Python with nothing but the standard library: a word counter.

It reaches the mesh through a node's gateway (docs/gateway.md), over the WebSocket at /v1/ws:
it subscribes to a topic of jobs (`wordcount.jobs` by default), and for each job event
({"text": "..."}) publishes an answer on the results topic (`wordcount.results`):
{"job": <the job event's id>, "words": <how many>, "by": "<this agent's name>"}. A job whose
payload has no "text" is answered with {"job", "error"}, so the sender is never left waiting.

    python3 agent.py --gateway http://127.0.0.1:8080 [--token T] [--jobs wordcount.jobs]
                     [--results wordcount.results] [--name py-wordcount] [--max-jobs N]

It prints one JSON line when it is subscribed ({"event": "ready"}), one per job answered, and
one when it ends ({"event": "done", "answered": N}): after --max-jobs jobs, on SIGINT/SIGTERM,
or when the gateway closes the connection. Why the WebSocket and not REST: REST has no push;
the WebSocket delivers each event as it is published, and carries the answers back.

The WebSocket client below is the least RFC 6455 needs for this: the opening handshake, masked
text frames out, and frames in (text, ping answered with pong, close); messages over one frame
are put together. Python's standard library has no WebSocket client; a real agent may use the
`websockets` package instead and keep everything else.
"""
import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import urllib.parse

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class WebSocket:
    """One client connection: send(obj) a JSON text frame, recv() the next JSON message (None once closed)."""

    def __init__(self, url: str, timeout: float = 60.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme != 'ws':
            raise ValueError('this small client speaks ws:// only (put TLS in front with a real client)')
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ('?' + u.query if u.query else '')
        self.sock.sendall((
            f'GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port or 80}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'
        ).encode())
        head = b''
        while b'\r\n\r\n' not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError('the gateway closed the connection during the handshake')
            head += chunk
        head, self.buffer = head.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        if not lines[0].startswith('HTTP/1.1 101'):
            raise ConnectionError(f'upgrade refused: {lines[0]}')
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(':', 1) for line in lines[1:] if ':' in line)}
        if headers.get('sec-websocket-accept') != accept:
            raise ConnectionError('the gateway answered the handshake with the wrong Sec-WebSocket-Accept')
        # Open: wait for frames as long as it takes (the gateway's pings keep a quiet line alive).
        self.sock.settimeout(None)
        self.closed = False

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('connection lost')
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self, opcode: int, payload: bytes) -> None:
        # A client masks every frame it sends (RFC 6455 5.3).
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack('!H', n)
        else:
            head += bytes([0x80 | 127]) + struct.pack('!Q', n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, obj) -> None:
        self._frame(0x1, json.dumps(obj).encode())

    def recv(self):
        message = b''
        while True:
            b0, b1 = self._read(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack('!H', self._read(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask is not None:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping: the gateway drops a client that does not answer
                self._frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                self.close(payload[:2] if len(payload) >= 2 else b'')
                return None
            message += payload
            if fin:
                return json.loads(message)

    def close(self, code: bytes = struct.pack('!H', 1000)) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._frame(0x8, code)
        except OSError:
            pass
        self.sock.close()


def say(obj) -> None:
    print(json.dumps(obj), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description='A word-counting mesh agent over the gateway\'s WebSocket (standard library only).')
    p.add_argument('--gateway', default=os.environ.get('AGENTMESH_GATEWAY', 'http://127.0.0.1:8080'))
    p.add_argument('--token', default=os.environ.get('AGENTMESH_GATEWAY_TOKEN'))
    p.add_argument('--jobs', default='wordcount.jobs')
    p.add_argument('--results', default='wordcount.results')
    p.add_argument('--name', default='py-wordcount')
    p.add_argument('--max-jobs', type=int, default=0, help='stop after this many jobs (0: never)')
    args = p.parse_args()

    url = args.gateway.replace('http://', 'ws://', 1).rstrip('/') + '/v1/ws'
    if args.token:
        # A header would do as well; ?token= is what the gateway takes where headers cannot be set.
        url += '?token=' + urllib.parse.quote(args.token)
    ws = WebSocket(url)
    stopping = []

    def stop(*_):
        stopping.append(True)
        ws.close()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    ws.send({'op': 'subscribe', 'id': 'sub', 'topic': args.jobs})
    answered = 0
    unconfirmed = set()  # answers published but not yet confirmed by the gateway
    try:
        while not stopping:
            frame = ws.recv()
            if frame is None:
                break
            kind = frame.get('type')
            if kind == 'result' and frame.get('id') == 'sub':
                say({'event': 'ready', 'topic': args.jobs})
            elif kind == 'error':
                say({'event': 'error', 'id': frame.get('id'), 'error': frame['error']})
                unconfirmed.discard(frame.get('id'))
                if frame.get('id') == 'sub':
                    return 1
            elif kind == 'event':
                event = frame['event']
                payload = event.get('payload')
                text = payload.get('text') if isinstance(payload, dict) else None
                answer = {'job': event['id'], 'by': args.name}
                if isinstance(text, str):
                    answer['words'] = len(text.split())
                else:
                    answer['error'] = 'a job is {"text": "..."}'
                answered += 1
                unconfirmed.add(f'answer-{answered}')
                ws.send({'op': 'publish', 'id': f'answer-{answered}', 'topic': args.results, 'payload': answer})
                say({'event': 'answered', **answer})
            elif kind == 'result':
                unconfirmed.discard(frame.get('id'))
            # Done once the last answer is out: closing before the gateway published it could lose it.
            if args.max_jobs and answered >= args.max_jobs and not unconfirmed:
                break
    except (ConnectionError, OSError) as err:
        if not stopping:
            say({'event': 'lost', 'error': str(err)})
            return 1
    finally:
        ws.close()
    say({'event': 'done', 'answered': answered})
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""STAND-IN for the ZeroTier Central API and a self-hosted controller's API, for the Molecule scenario only.

It is NOT ZeroTier: a small HTTP server on 127.0.0.1 that keeps network members in a folder shared with the
stand-in zerotier-cli on the test hosts (<state>/<nwid>/<node>.json) and serves the two member endpoints
the role uses:

  ZeroTier Central   GET|POST /api/v1/network/<nwid>/member/<node>    Authorization: token <token>
                     member JSON {"id", "networkId", "nodeId", "config": {"authorized", "ipAssignments"}}
                     POST body {"config": {"authorized": true}}
  local controller   GET|POST /controller/network/<nwid>/member/<node>  X-ZT1-Auth: <token>
                     member JSON {"id", "address", "nwid", "authorized", "ipAssignments"}
                     POST body {"authorized": true}

A wrong or missing token gets 401; an unknown member 404 on GET; a POST creates or updates the member
and, when it authorizes one without an address, assigns the next address of 10.147.17.0/24. Every request
is appended to <state>/requests.log (method, path, how it authenticated; never the token).
"""
import argparse
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MEMBER = re.compile(r'^(?P<prefix>/api/v1|/controller)/network/(?P<nwid>[0-9a-f]{16})/member/(?P<node>[0-9a-f]{10})$')
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    state = ''
    token = ''

    def log_message(self, *args):  # quiet
        pass

    def _auth(self, central):
        if central:
            value = self.headers.get('Authorization', '')
            parts = value.split(' ', 1)
            ok = len(parts) == 2 and parts[0].lower() in ('token', 'bearer') and parts[1] == self.token
            return ('token' if value else 'none'), ok
        value = self.headers.get('X-ZT1-Auth')
        return ('X-ZT1-Auth' if value is not None else 'none'), value == self.token

    def _log(self, scheme, ok, status):
        with LOCK, open(os.path.join(self.state, 'requests.log'), 'a') as log:
            log.write(json.dumps({'method': self.command, 'path': self.path, 'auth': scheme, 'token_ok': ok,
                                  'status': status}) + '\n')

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _member_file(self, nwid, node):
        return os.path.join(self.state, nwid, node + '.json')

    def _read(self, nwid, node):
        try:
            with open(self._member_file(nwid, node)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def _write(self, nwid, node, record):
        path = self._member_file(nwid, node)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(record, handle, indent=1)
        os.replace(tmp, path)

    def _next_address(self):
        used = set()
        for root, _dirs, files in os.walk(self.state):
            for name in files:
                if name.endswith('.json'):
                    try:
                        with open(os.path.join(root, name)) as handle:
                            used.update(json.load(handle).get('ipAssignments', []))
                    except (OSError, ValueError):
                        pass
        host = 10
        while '10.147.17.%d' % host in used:
            host += 1
        return '10.147.17.%d' % host

    @staticmethod
    def _render(central, nwid, node, record):
        if central:
            return {'id': '%s-%s' % (nwid, node), 'networkId': nwid, 'nodeId': node,
                    'config': {'authorized': record['authorized'], 'ipAssignments': record['ipAssignments']}}
        return {'id': node, 'address': node, 'nwid': nwid, 'authorized': record['authorized'],
                'ipAssignments': record['ipAssignments']}

    def _handle(self):
        match = MEMBER.match(self.path)
        if not match:
            self._log('none', False, 404)
            return self._send(404, {'message': 'not found'})
        central = match.group('prefix') == '/api/v1'
        scheme, ok = self._auth(central)
        if not ok:
            self._log(scheme, ok, 401)
            return self._send(401, {'message': 'unauthorized'})
        nwid, node = match.group('nwid'), match.group('node')
        with LOCK:
            record = self._read(nwid, node)
            if self.command == 'GET':
                status = 200 if record else 404
                body = self._render(central, nwid, node, record) if record else {'message': 'member not found'}
            else:
                length = int(self.headers.get('Content-Length') or 0)
                try:
                    change = json.loads(self.rfile.read(length) or b'{}')
                except ValueError:
                    change = None
                if not isinstance(change, dict):
                    status, body = 400, {'message': 'bad json'}
                else:
                    if central:
                        change = change.get('config', {})
                    record = record or {'authorized': False, 'ipAssignments': []}
                    if 'authorized' in change:
                        record['authorized'] = bool(change['authorized'])
                    if record['authorized'] and not record['ipAssignments']:
                        record['ipAssignments'] = [self._next_address()]
                    self._write(nwid, node, record)
                    status, body = 200, self._render(central, nwid, node, record)
        self._log(scheme, ok, status)
        return self._send(status, body)

    do_GET = _handle
    do_POST = _handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--state', required=True)
    parser.add_argument('--token-file', required=True)
    parser.add_argument('--pidfile', required=True)
    args = parser.parse_args()
    with open(args.token_file) as handle:
        Handler.token = handle.read().strip()
    Handler.state = args.state
    os.makedirs(args.state, exist_ok=True)
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    with open(args.pidfile, 'w') as handle:
        handle.write(str(os.getpid()))
    server.serve_forever()


if __name__ == '__main__':
    main()

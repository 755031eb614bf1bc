# STAND-IN for ZeroTier One's zerotier-cli, for the Molecule scenario only (ZeroTier cannot be installed
# offline). It is NOT ZeroTier: it keeps a node identity and the joined networks in files, and answers
# the commands the role uses with the shapes of the real CLI's output:
#   info -j, listnetworks -j, join <nwid>, leave <nwid>.
# The network "controller" is a folder shared with the stand-in API (standin_central_api.py):
#   <controller>/<nwid>/<node>.json  {"authorized": bool, "ipAssignments": [...]}
# join writes a member record there (as a real join makes the member appear at the controller), and
# listnetworks reports status OK with addresses only once the stand-in API has authorized that member.
# Every call is appended to <state>/standin-calls.log for the tests.
import json
import os
import random
import sys
import time

STATE = os.environ.get('STANDIN_ZT_STATE', '/var/lib/zerotier-one')
CONTROLLER = os.environ.get('STANDIN_ZT_CONTROLLER', '/var/lib/clarafl-zt-standin/controller')
VERSION = '1.14.2-standin'


def _read_json(path, default):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def _write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = '%s.tmp%d' % (path, os.getpid())
    with open(tmp, 'w') as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


def node_id():
    path = os.path.join(STATE, 'identity.public')
    try:
        with open(path) as handle:
            return handle.read().split(':')[0].strip()
    except OSError:
        node = '%010x' % random.randrange(0x0100000000, 0xfeffffffff)
        os.makedirs(STATE, exist_ok=True)
        with open(path, 'w') as handle:
            handle.write('%s:0:standin\n' % node)
        return node


def joined():
    return _read_json(os.path.join(STATE, 'standin-networks.json'), [])


def member(nwid, node):
    return _read_json(os.path.join(CONTROLLER, nwid, node + '.json'), None)


def rfc4193(nwid, node):
    # fd<nwid>9993<node>, as ZeroTier's RFC 4193 addressing mode builds it.
    hexa = 'fd' + nwid + '9993' + node
    return ':'.join(hexa[i:i + 4] for i in range(0, 32, 4)) + '/88'


def network(nwid, node):
    record = member(nwid, node)
    authorized = bool(record and record.get('authorized'))
    addresses = []
    if authorized:
        addresses = [rfc4193(nwid, node)] + ['%s/24' % ip for ip in record.get('ipAssignments', [])]
    return {
        'allowDNS': False, 'allowDefault': False, 'allowGlobal': False, 'allowManaged': True,
        'assignedAddresses': addresses, 'bridge': False, 'broadcastEnabled': True,
        'id': nwid, 'nwid': nwid, 'mac': '02:00:00:00:00:01', 'mtu': 2800,
        'name': 'standin-%s' % nwid[-4:] if authorized else '',
        'netconfRevision': 1 if authorized else 0,
        'portDeviceName': 'zt' + nwid[:8], 'portError': 0, 'routes': [],
        'status': 'OK' if authorized else 'ACCESS_DENIED',
        'type': 'PRIVATE' if authorized else '',
    }


def main(argv):
    args = [a for a in argv if a != '-j']
    node = node_id()
    with open(os.path.join(STATE, 'standin-calls.log'), 'a') as log:
        log.write('%.3f %s\n' % (time.time(), ' '.join(argv)))
    if not args:
        print('zerotier-cli STAND-IN: usage: info -j | listnetworks -j | join <nwid> | leave <nwid>')
        return 1
    command = args[0]
    if command == 'info':
        print(json.dumps({'address': node, 'online': True, 'version': VERSION, 'tcpFallbackActive': False,
                          'publicIdentity': node + ':0:standin', 'planetWorldId': 149604618, 'clock': int(time.time() * 1000)},
                         indent=1))
        return 0
    if command == 'listnetworks':
        print(json.dumps([network(nwid, node) for nwid in joined()], indent=1))
        return 0
    if command in ('join', 'leave') and len(args) == 2:
        nwid = args[1].lower()
        if len(nwid) != 16 or any(c not in '0123456789abcdef' for c in nwid):
            print('invalid network id')
            return 1
        networks = joined()
        if command == 'join':
            if nwid not in networks:
                networks.append(nwid)
            if member(nwid, node) is None:
                _write_json(os.path.join(CONTROLLER, nwid, node + '.json'), {'authorized': False, 'ipAssignments': []})
        else:
            if nwid not in networks:
                print('404 leave {}')
                return 1
            networks.remove(nwid)
        _write_json(os.path.join(STATE, 'standin-networks.json'), networks)
        print('200 %s OK' % command)
        return 0
    print('zerotier-cli STAND-IN: unsupported command: %s' % ' '.join(argv))
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

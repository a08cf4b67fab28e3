#!/usr/bin/env python3
# policyd_client.py -- a small Postfix policy client for test_policyd.sh.
# SPDX-License-Identifier: BSD-2-Clause
#
#   policyd_client.py send SOCK FILE     send FILE's requests (pipelined on
#                                        one connection), print the replies
#   policyd_client.py many SOCK N FILE   N connections at once, each sends
#                                        FILE (@INST@ replaced by its
#                                        number); prints all replies
#   policyd_client.py raw SOCK FILE      send FILE's bytes, then print what
#                                        comes back until the server closes
#   policyd_client.py half SOCK          half a request, then close
#   policyd_client.py noread SOCK N      N requests, never read; keep the
#                                        socket open 3 s
# SOCK is a unix socket path.  Exit 1 on a short answer or a timeout.
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s


def replies(s, n):
    buf = b''
    while buf.count(b'\n\n') < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf.decode('utf-8', 'replace')


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == 'send':
        data = open(sys.argv[3], 'rb').read()
        n = data.count(b'\n\n')
        s = connect(path)
        s.sendall(data)
        out = replies(s, n)
        sys.stdout.write(out)
        return 0 if out.count('\n\n') == n else 1
    if cmd == 'many':
        count, data = int(sys.argv[3]), open(sys.argv[4], 'rb').read()
        n = data.count(b'\n\n')
        socks = [connect(path) for _ in range(count)]
        for i, s in enumerate(socks):
            s.sendall(data.replace(b'@INST@', b'%d' % i))
        ok = 0
        for s in socks:
            out = replies(s, n)
            sys.stdout.write(out)
            ok += out.count('\n\n') == n
        return 0 if ok == count else 1
    if cmd == 'raw':
        s = connect(path)
        try:
            s.sendall(open(sys.argv[3], 'rb').read())
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b''
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            buf += d
        sys.stdout.write(buf.decode('utf-8', 'replace'))
        return 0
    if cmd == 'half':
        s = connect(path)
        s.sendall(b'client_address=192.0.2.1\nsender=a@b')
        s.close()
        return 0
    if cmd == 'noread':
        s = connect(path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = (b'client_address=192.0.2.1\nhelo_name=h.example\n'
               b'sender=u@pass-all.spf.test\n\n')
        sent = 0
        s.setblocking(False)
        deadline = time.time() + 3
        for _ in range(int(sys.argv[3])):
            try:
                sent += s.send(req)
            except BlockingIOError:
                time.sleep(0.01)
            if time.time() > deadline:
                break
        time.sleep(1)
        print('sent', sent)
        return 0
    return 2


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
"""pyghmi's fakebmc with a serial line the test can drive (run with Debian's /usr/bin/python3).

Protocol on stdio, one line each:
  stdin   print <hex>     the node prints these bytes on its serial port (sent through SOL if active)
  stdout  ready <port>    listening
  stdout  recv <hex>      bytes typed into SOL by the client
  stdout  power <on|off>  power state changed
All pyghmi calls happen on the main thread; a reader thread only queues stdin lines.
"""
import argparse
import queue
import sys
import threading

import pyghmi.ipmi.bmc as bmc
import pyghmi.ipmi.private.session as ipmisession


class SerialFakeBmc(bmc.Bmc):
    def __init__(self, authdata, port, name):
        super().__init__(authdata, port=port, address='127.0.0.1')
        self.powerstate = 'off'
        self.name = name
        self.outbox = queue.Queue()

    def get_power_state(self):
        return self.powerstate

    def power_off(self):
        self.powerstate = 'off'
        emit('power off')

    def power_on(self):
        self.powerstate = 'on'
        emit('power on')

    def power_reset(self):
        pass

    def power_shutdown(self):
        self.power_off()

    def is_active(self):
        return self.powerstate == 'on'

    def iohandler(self, data):
        if isinstance(data, dict):  # pyghmi reports errors as dicts
            return
        if isinstance(data, str):
            data = data.encode('latin1')
        emit('recv ' + data.hex())
        echo = data.replace(b'\r', b'\r\n' + self.name.encode() + b' login: ')
        self.outbox.put(echo)


def emit(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--name', default='pynode')
    parser.add_argument('--user', default='admin')
    parser.add_argument('--password', default='password')
    args = parser.parse_args()
    server = SerialFakeBmc({args.user: args.password}, args.port, args.name)

    def read_stdin():
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'print':
                server.outbox.put(bytes.fromhex(parts[1]))
        # stdin closed: the test is gone, so are we
        server.outbox.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    emit('ready %d' % args.port)
    while True:
        ipmisession.Session.wait_for_rsp(0.02)
        while True:
            try:
                item = server.outbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return 0
            if server.sol:
                server.sol.send_data(item)


if __name__ == '__main__':
    sys.exit(main())

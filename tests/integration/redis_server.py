"""A private redis-server for tests (loopback, a port of 16300-16399, its own
directory, AOF on; stopped and removed at the end), and a small RESP client
for the tests' side of the conversation."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

PORTS = range(16300, 16400)
BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"


def available():
    return os.access(BINARY, os.X_OK)


class RedisError(Exception):
    pass


class Client:
    """One RESP connection: command() sends and reads one reply; for a
    subscription, subscribe() then next_message()."""

    def __init__(self, port, password=None, user=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if password:
            self.command(*(["AUTH", user, password] if user else ["AUTH", password]))

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def command(self, *args):
        self.send(*args)
        reply = self.read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RedisError("unexpected reply %r" % line)

    def subscribe(self, channel):
        self.send("SUBSCRIBE", channel)
        self.read()

    def next_message(self, timeout):
        """The next published message's payload, or None after timeout s."""
        self.sock.settimeout(timeout)
        try:
            while True:
                msg = self.read()
                if isinstance(msg, list) and msg[0] == "message":
                    return msg[2]
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(10)


class Server:
    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="execd-redis-")
        self.password = password
        self.proc = None
        self.port = None
        first = os.getpid() % len(PORTS)
        for i in range(len(PORTS)):
            self.port = PORTS[(first + i) % len(PORTS)]
            if self._spawn():
                return
        self.stop()
        raise RuntimeError("redis-server did not start on any port of 16300-16399")

    def _spawn(self):
        args = [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--appendonly", "yes", "--save", "", "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                c = self.client()
                ok = c.command("PING") == "PONG"
                c.close()
                if ok:
                    return True
            except (OSError, RedisError):
                pass
            time.sleep(0.025)
        self.kill()
        return False

    def client(self, **kw):
        return Client(self.port, password=self.password, **kw)

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self):
        if not self._spawn():
            raise RuntimeError("redis-server did not start again on port %d" % self.port)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

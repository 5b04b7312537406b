"""What the container-engine integration tests share: the Engine API on a
unix socket, the engines the environment names, and one test class per
engine (and workspace mount) made from an abstract one."""
import http.client
import json
import time
import os
import socket
import unittest
import urllib.parse

API = "/v1.41"
IMAGE = os.environ.get("EXECD_CONTAINER_IMAGE", "busybox:local")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Engine:
    """The engine's REST API on its socket, for what a test sets up and
    checks."""

    def __init__(self, sock):
        self.sock = sock

    def raw(self, method, path, body=None, headers=None, timeout=60):
        """(status, body text) of one call."""
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        try:
            conn.request(method, API + path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def call(self, method, path):
        """(status, the JSON answer, or its text when it is not JSON)."""
        status, body = self.raw(method, path)
        return status, (json.loads(body) if body.strip().startswith(("{", "[")) else body)

    def containers_labelled(self, label):
        flt = urllib.parse.quote(json.dumps({"label": [label]}))
        status, doc = self.call("GET", "/containers/json?all=1&filters=" + flt)
        assert status == 200, doc
        return doc

    def containers_of(self, execution_id):
        return self.containers_labelled("execd.execution=" + execution_id)

    def containers_left_labelled(self, label, within=30):
        """The containers of label once the removals execd makes after
        reporting a result had time to answer: [] unless one is left."""
        deadline = time.time() + within
        left = self.containers_labelled(label)
        while left and time.time() < deadline:
            time.sleep(0.05)
            left = self.containers_labelled(label)
        return left

    def containers_left(self, execution_id, within=30):
        """The execution's containers once its removal had time to answer."""
        return self.containers_left_labelled("execd.execution=" + execution_id, within)

    def inspect(self, name):
        return self.call("GET", "/containers/%s/json" % name)

    def volume_exists(self, name):
        return self.call("GET", "/volumes/" + urllib.parse.quote(name))[0] == 200


def shell_request(backend, script, **extra):
    """An execution request running script with /bin/sh in IMAGE on
    backend, its logs in the result; extra members are added to it."""
    req = {"backend": backend,
           "container": {"image": IMAGE, "command": ["/bin/sh", "-c", script]},
           "output": {"logs": True}}
    req.update(extra)
    return req


def engines():
    """(name, socket) of each engine named by EXECD_<NAME>_SOCKET."""
    found = []
    for name in ("docker", "podman"):
        sock = os.environ.get("EXECD_%s_SOCKET" % name.upper())
        if sock:
            found.append((name, sock))
    return found


def suite_per_engine(loader, base, prefix, mounts=None):
    """The tests of BASE once per engine (and per workspace_mount in
    MOUNTS), as classes PREFIX_<engine>[_<mount>] with the class attributes
    engine_name, sock and mount set."""
    suite = unittest.TestSuite()
    for name, sock in engines():
        for mount in mounts or (None,):
            cls = type("%s_%s%s" % (prefix, name, "_" + mount if mount else ""), (base,),
                       {"engine_name": name, "sock": sock, "mount": mount})
            suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite

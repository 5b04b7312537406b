"""Starts and stops a real execd for integration tests: a temporary state
directory, a config with the local backend, file storage and the HTTP
transport on a free loopback port, and tokens for two tenants."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BUILDDIR = os.environ.get("EXECD_BUILDDIR", os.getcwd())
PLUGIN_PATH = os.environ.get("EXECD_PLUGIN_PATH", ":".join(
    os.path.join(BUILDDIR, d) for d in
    ("plugins/backend/local", "plugins/backend/docker", "plugins/backend/podman",
     "plugins/storage/file", "plugins/transport/http")))
EXECD = os.path.join(BUILDDIR, "core", "execd")
EXECCTL = os.path.join(BUILDDIR, "cli", "execctl")

TOKENS = {"token-a": "tenant-a", "token-b": "tenant-b"}

CONFIG = """
daemon: {{ state_dir = "{state}"; max_running = 8; log_level = "debug";
          kill_grace = "1s"; shutdown_grace = "2s"; {daemon_extra} }};
storage: {{ plugin = "file"; path = "{state}/store"; }};
backends: ( {{ name = "local"; plugin = "local";
              commands_allowed = [ "/bin/*", "/usr/bin/*" ];
              defaults = {{ memory = "1G"; timeout = "2m"; }}; }}{extra_backends} );
transports: ( {{ plugin = "http"; listen = "127.0.0.1:{port}"; tokens_file = "{state}/tokens"; }} );
{extra_config}
"""


def mounts_under(path):
    """Mount points at or below path, deepest first, from
    /proc/self/mountinfo (the daemon runs in the test's mount namespace)."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mount point, with blanks and the like octal-escaped.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path):
    """rm -rf path, after unmounting what is mounted below it: a daemon that
    crashed leaves its attempts' tmpfs workspaces mounted, which rm cannot
    remove (and would empty rather than skip without --one-file-system)."""
    for point in mounts_under(path):
        if subprocess.run(["umount", point]).returncode != 0:
            subprocess.run(["umount", "-l", point])
    subprocess.run(["rm", "-rf", "--one-file-system", path])


class Daemon:
    def __init__(self, state=None, extra_backends="", extra_config="", daemon_extra=""):
        """extra_backends: libconfig text of more backends, each starting
        with a comma (", { name = ...; }"); extra_config: more top-level
        settings (agents = ( ... );); daemon_extra: more settings of the
        daemon group (agents_dir = "...";)."""
        self.owns_state = state is None
        self.state = state or tempfile.mkdtemp(prefix="execd-it-")
        self.started = False
        # Searchable by others, as the packaged state directory is: jobs run
        # under uids of their own and reach their workspaces below it.
        os.chmod(self.state, 0o711)
        self.extra_backends = extra_backends
        self.extra_config = extra_config
        self.daemon_extra = daemon_extra
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.state, "execd.log")
        with open(os.path.join(self.state, "tokens"), "w") as f:
            for token, tenant in TOKENS.items():
                f.write(f"{token} {tenant}\n")
        os.chmod(os.path.join(self.state, "tokens"), 0o600)

    def write_config(self, port=0):
        path = os.path.join(self.state, "execd.conf")
        with open(path, "w") as f:
            f.write(CONFIG.format(state=self.state, port=port,
                                  extra_backends=self.extra_backends,
                                  extra_config=self.extra_config,
                                  daemon_extra=self.daemon_extra))
        return path

    def start(self, port=None):
        conf = self.write_config(port if port is not None else (self.port or 0))
        env = dict(os.environ, EXECD_PLUGIN_PATH=PLUGIN_PATH)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([EXECD, "-c", conf], stderr=self.log, stdout=self.log,
                                     env=env, start_new_session=True)
        try:
            self.wait_until_ready()
        except Exception:
            # Callers write Daemon(...).start() and keep no object to clean
            # up with when it raises: a daemon that never came up is stopped
            # here, and the directory made for it removed (its log is in the
            # exception).
            self.stop()
            if self.owns_state and not self.started:
                remove_tree(self.state)
            raise
        self.started = True
        return self

    def wait_until_ready(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            with open(self.log_path) as f:
                text = f.read()
            ports = re.findall(r"listening on 127\.0\.0\.1:(\d+)", text)
            if ports:
                self.port = int(ports[-1])
                if self.ready():
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("execd exited with %s:\n%s" % (self.proc.returncode, text))
            time.sleep(0.05)
        raise RuntimeError("execd did not become ready:\n" + open(self.log_path).read())

    def ready(self):
        try:
            status, _ = self.request("GET", "/healthz")
            return status == 200
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, token="token-a", raw=None, timeout=60,
                headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text

    def post_oversized(self, path, size, token="token-a"):
        """POSTs headers announcing a SIZE-byte body with Expect: 100-continue
        (as curl does for large bodies) and returns (status, document): the
        server is to refuse before the body is sent."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                       % (path, token, size)).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status = int(head.split()[1])
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            while length and len(body) < int(length.group(1)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
            return status, (json.loads(body) if body.strip() else None)

    def submit(self, req, wait=None, token="token-a"):
        path = "/v1/executions" + ("?wait=%d" % wait if wait else "")
        return self.request("POST", path, req, token=token, timeout=(wait or 0) + 30)

    def get(self, eid, token="token-a"):
        return self.request("GET", "/v1/executions/" + eid, token=token)

    def wait_state(self, eid, states, timeout=30, token="token-a"):
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            status, doc = self.get(eid, token=token)
            if status == 200 and doc["state"] in states:
                return doc
            time.sleep(0.05)
        raise AssertionError("execution %s did not reach %s: %s" % (eid, states, doc))

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def cleanup(self):
        self.stop()
        remove_tree(self.state)

"""dockerd stopped while a container execution runs: the execution fails
with backend_unavailable (and is retried when its policy allows), the daemon
keeps serving its other backends, /readyz names the docker backend as down,
and when dockerd is back execd is ready again, runs docker executions and
leaves no container of the failed ones.  A dockerd with live-restore leaves
the container running while it is away: the attempt re-attaches when it is
back and succeeds with every log line once.

The dockerd stopped here is a private one the test starts and removes (its
own data root, exec root, containerd and socket): the shared engine on
EXECD_DOCKER_SOCKET serves suites running in parallel and is only read,
to copy the test image from."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from daemon import Daemon
from engine_api import IMAGE, UnixHTTPConnection, shell_request

SHARED_SOCKET = os.environ.get("EXECD_DOCKER_SOCKET")
TERMINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"]


def engine_call(sock, method, path, body=None, timeout=30):
    """(status, bytes) of one Engine API call."""
    conn = UnixHTTPConnection(sock, timeout=timeout)
    try:
        headers = {"Content-Type": "application/x-tar"} if body is not None else {}
        conn.request(method, "/v1.41" + path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def mounts_under(root):
    """Mount points at or below root, deepest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mount point, with blanks and the like octal-escaped.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == root or point.startswith(root + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


class PrivateDockerd:
    """A dockerd of the test's own, started the way scripts/engines.sh
    starts the shared one: an empty config file, no bridge, NAT or
    iptables, its own containerd namespace."""

    def __init__(self, config=None):
        # Under /tmp, not $TMPDIR: containerd's sockets live below the exec
        # root and a unix socket path has at most 107 bytes.
        self.root = tempfile.mkdtemp(prefix="execd-dd-", dir="/tmp")
        self.sock = os.path.join(self.root, "docker.sock")
        self.pidfile = os.path.join(self.root, "docker.pid")
        self.log_path = os.path.join(self.root, "dockerd.log")
        self.config = os.path.join(self.root, "daemon.json")
        with open(self.config, "w") as f:
            f.write(json.dumps(config or {}) + "\n")
        self.proc = None
        self.log = None

    def pings(self):
        try:
            return engine_call(self.sock, "GET", "/_ping", timeout=5) == (200, b"OK")
        except OSError:
            return False

    def start(self, timeout=60):
        self.log = open(self.log_path, "a")
        ns = "execd-down-%d" % os.getpid()
        # From its own directory, like engines.sh: helpers leave files in
        # their working directory.
        self.proc = subprocess.Popen(
            ["dockerd", "--config-file", self.config, "--host", "unix://" + self.sock,
             "--pidfile", self.pidfile, "--data-root", os.path.join(self.root, "data"),
             "--exec-root", os.path.join(self.root, "exec"),
             "--containerd-namespace", ns, "--containerd-plugins-namespace", ns + "-plugins",
             "--bridge", "none", "--iptables=false", "--ip6tables=false",
             "--ip-forward=false", "--ip-masq=false"],
            cwd=self.root, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        deadline = time.time() + timeout
        while not self.pings():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("private dockerd did not answer on %s (%s); its log ends:\n%s"
                                   % (self.sock, "exited %s" % self.proc.returncode
                                      if self.proc.poll() is not None else "timeout",
                                      self.log_tail()))
            time.sleep(0.1)

    def stop(self, timeout=30):
        """SIGTERM and wait for the exit (dockerd stops its containers and
        its containerd first); True when it exited within timeout."""
        if not self.proc:
            return True
        exited = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                exited = False
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
        return exited

    def log_tail(self, n=20):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def copy_image_from(self, sock, image):
        status, tar = engine_call(sock, "GET", "/images/%s/get" % urllib.parse.quote(image),
                                  timeout=120)
        if status != 200:
            raise RuntimeError("GET /images/%s/get on %s answered %d" % (image, sock, status))
        status, body = engine_call(self.sock, "POST", "/images/load?quiet=1", body=tar,
                                   timeout=120)
        if status != 200 or b'"error' in body:
            raise RuntimeError("loading %s into the private dockerd: %d %r" % (image, status, body))

    def containers_of(self, execution_id):
        flt = urllib.parse.quote(json.dumps({"label": ["execd.execution=" + execution_id]}))
        status, body = engine_call(self.sock, "GET", "/containers/json?all=1&filters=" + flt)
        assert status == 200, body
        return json.loads(body)

    def inspect(self, name):
        status, body = engine_call(self.sock, "GET", "/containers/%s/json" % name)
        return status, (json.loads(body) if status == 200 else body)

    def cleanup(self):
        """Stops the engine (its containers with it) and removes its
        directories, unmounting what it left mounted."""
        if self.proc and self.proc.poll() is None and self.pings():
            # Whatever a failed test left: removed so that no volume or
            # container state stays mounted.
            try:
                _, body = engine_call(self.sock, "GET", "/containers/json?all=1")
                for c in json.loads(body):
                    engine_call(self.sock, "DELETE", "/containers/%s?force=1&v=1" % c["Id"],
                                timeout=60)
            except (OSError, ValueError):
                pass
        if not self.stop():
            print("!!! the private dockerd ignored SIGTERM for 30 s; killed", file=sys.stderr)
        # The containerd dockerd started exits with it; one that outlived a
        # SIGKILLed dockerd is found by its config under our exec root.
        self.kill_strays()
        for point in mounts_under(self.root):
            if subprocess.run(["umount", point]).returncode != 0:
                subprocess.run(["umount", "-l", point])
        left = mounts_under(self.root)
        if left:
            print("!!! mounts left under %s: %s; the directory is kept" % (self.root, left),
                  file=sys.stderr)
            return
        subprocess.run(["rm", "-rf", self.root])

    def kill_strays(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if any(a.startswith((self.root + "/").encode()) for a in cmd):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass


class PrivateDockerdTest(unittest.TestCase):
    """execd with a docker backend on a private dockerd of the test's own."""
    engine_config = None  # dockerd's daemon.json
    backend_extra = ""    # more settings of the docker backend

    def setUp(self):
        self.engine = PrivateDockerd(self.engine_config)
        self.addCleanup(self.engine.cleanup)
        self.engine.start()
        self.engine.copy_image_from(SHARED_SOCKET, IMAGE)
        backend = (', {{ name = "docker"; plugin = "docker"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "{i}" ]; {x} }}').format(s=self.engine.sock, i=IMAGE,
                                                             x=self.backend_extra)
        self.d = Daemon(extra_backends=backend)
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def submit(self, req, wait=None):
        status, doc = self.d.submit(req, wait=wait)
        self.assertEqual(status, 201, doc)
        return doc

    def submit_docker(self, script, **extra):
        return self.submit(shell_request("docker", script, **extra))["execution_id"]

    def readyz(self):
        return self.d.request("GET", "/readyz", token=None)

    def wait_readyz(self, status, timeout):
        deadline = time.time() + timeout
        while True:
            code, doc = self.readyz()
            if code == status:
                return doc
            self.assertLess(time.time(), deadline,
                            "/readyz did not answer %d within %d s: %d %s"
                            % (status, timeout, code, doc))
            time.sleep(0.2)

    def wait_container_running(self, eid, timeout=60):
        """Until the job's first line is stored: its container runs."""
        deadline = time.time() + timeout
        while True:
            status, logs = self.d.request("GET", "/v1/executions/%s/logs" % eid)
            if status == 200 and "started\n" in logs:
                break
            self.assertLess(time.time(), deadline, "%s never printed its first line: %s"
                            % (eid, self.d.get(eid)[1]))
            time.sleep(0.1)
        status, doc = self.engine.inspect("execd-%s-1" % eid)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["State"]["Status"], "running", doc["State"])

    def assert_backend_unavailable(self, doc, attempts):
        # On failure, what execd logged about the execution tells why.
        why = "%s\nexecd's log:\n%s" % (doc, "".join(
            l for l in self.d.log_text().splitlines(True) if doc["execution_id"] in l))
        self.assertEqual(doc["state"], "FAILED", why)
        self.assertEqual(doc["error"]["code"], "backend_unavailable", why)
        self.assertEqual(doc["result"]["error"]["code"], "backend_unavailable", why)
        self.assertEqual(doc["attempts"], attempts, why)


class ContainerEngineDownTest(PrivateDockerdTest):
    def test_dockerd_stopped_mid_run(self):
        t0 = time.time()
        self.wait_readyz(200, 30)
        once = self.submit_docker("echo started; sleep 20")
        # backend_unavailable is retryable: the second attempt runs while
        # dockerd is still down and fails the same way.
        twice = self.submit_docker("echo started; sleep 20",
                                   retry={"max_attempts": 2, "backoff_ms": 100})
        for eid in (once, twice):
            self.d.wait_state(eid, ["RUNNING"], timeout=60)
            self.wait_container_running(eid)

        t_stop = time.time()
        self.assertTrue(self.engine.stop(), "the private dockerd did not stop in 30 s")
        t_stopped = time.time()

        doc = self.d.wait_state(once, TERMINAL, timeout=30)
        self.assert_backend_unavailable(doc, 1)
        self.assertIn("started\n", doc["result"]["logs"])
        failed_at = time.time()
        doc = self.d.wait_state(twice, TERMINAL, timeout=30)
        self.assert_backend_unavailable(doc, 2)
        self.assertIn("RETRY_WAIT", [h["to"] for h in doc["history"]], doc["history"])

        # The daemon keeps serving the local backend.
        doc = self.submit({"backend": "local",
                           "container": {"command": ["/bin/sh", "-c", "echo local-ok"]},
                           "output": {"logs": True}}, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["logs"], "local-ok\n")

        down = self.wait_readyz(503, 20)
        t_down = time.time()
        self.assertFalse(down["ready"], down)
        self.assertEqual(down["down"], ["backend docker"], down)
        self.assertEqual(down["components"]["backend local"], "ok", down)
        self.assertIn(self.engine.sock, down["components"]["backend docker"], down)

        t_start = time.time()
        self.engine.start()
        up = self.wait_readyz(200, 30)
        t_ready = time.time()
        self.assertTrue(up["ready"], up)
        self.assertEqual(up["components"]["backend docker"], "ok", up)

        # dockerd stopped the containers and keeps them: execd removes them,
        # while dockerd still answers on open connections or, failing that,
        # in its sweep once the engine answers again.
        deadline = time.time() + 30
        while self.engine.containers_of(once) or self.engine.containers_of(twice):
            self.assertLess(time.time(), deadline, "containers left: %s" % (
                self.engine.containers_of(once) + self.engine.containers_of(twice)))
            time.sleep(0.2)
        t_swept = time.time()

        doc = self.submit({"backend": "docker",
                           "container": {"image": IMAGE, "command": ["/bin/sh", "-c", "echo back"]},
                           "output": {"logs": True}}, wait=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["logs"], "back\n")
        # Removed after the result is reported, in the background.
        deadline = time.time() + 30
        while self.engine.containers_of(doc["execution_id"]) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.engine.containers_of(doc["execution_id"]), [])
        t_end = time.time()
        swept = self.d.log_text().count("left by an earlier run")
        print("\n  setup-to-stop %.1f s, dockerd stop %.1f s, failed %.1f s after SIGTERM, "
              "readyz down %.1f s after SIGTERM, dockerd start + ready %.1f s, "
              "leftovers gone %.1f s after ready (%d removed by the sweep), "
              "new docker run %.1f s; total %.1f s"
              % (t_stop - t0, t_stopped - t_stop, failed_at - t_stop, t_down - t_stop,
                 t_ready - t_start, t_swept - t_ready, swept, t_end - t_swept, t_end - t0),
              file=sys.stderr)



class LiveRestoreTest(PrivateDockerdTest):
    """dockerd with live-restore leaves its containers running while it is
    away: the attempt waits for it (engine_grace) and re-attaches."""
    engine_config = {"live-restore": True}
    backend_extra = 'engine_grace = "60s";'

    def test_dockerd_restarted_with_live_restore_is_re_attached(self):
        self.wait_readyz(200, 30)
        eid = self.submit_docker("echo started; for i in 1 2 3 4 5 6; do echo line $i; "
                                 "sleep 1; done",
                                 retry={"max_attempts": 2, "backoff_ms": 100})
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        self.wait_container_running(eid)
        self.assertTrue(self.engine.stop(), "the private dockerd did not stop in 30 s")
        self.wait_readyz(503, 15)
        self.assertEqual(self.d.get(eid)[1]["state"], "RUNNING")
        self.engine.start()
        doc = self.d.wait_state(eid, TERMINAL, timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1, doc["history"])
        logs = doc["result"]["logs"]
        for line in ["started"] + ["line %d" % i for i in range(1, 7)]:
            self.assertEqual(logs.count(line + "\n"), 1, "logs: %r" % logs)
        self.assertIn("re-attached to container", self.d.log_text())
        deadline = time.time() + 20
        while self.engine.containers_of(eid) and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.engine.containers_of(eid), [])

if __name__ == "__main__":
    if not SHARED_SOCKET:
        print("SKIP: EXECD_DOCKER_SOCKET is unset (the test copies %s from that engine)" % IMAGE)
        sys.exit(77)
    unittest.main(verbosity=2)

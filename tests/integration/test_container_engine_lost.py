"""The engine goes away while a container runs on and comes back: the
attempt waits for it (engine_grace) and re-attaches, so the execution
succeeds in its first attempt with every log line once, a cancel asked for
meanwhile reaches the container, and an engine that stays away fails the
attempt with backend_unavailable, its container removed once the engine is
back.  Podman shows it: its containers outlive `podman system service`.
The test runs a second service of its own on the podman storage of
scripts/engines.sh (the engine on EXECD_PODMAN_SOCKET keeps running) and
stops and starts that one."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from daemon import Daemon
from engine_api import IMAGE, Engine, shell_request

ENGINES_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                          "engines.sh")
TERMINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"]


class PodmanService:
    """`podman system service` on a socket of the test's own, with the
    storage flags of scripts/engines.sh (its `podman` subcommand)."""

    def __init__(self, sock):
        self.sock = sock
        self.proc = None
        self.log = open(sock + ".log", "a")

    def start(self):
        self.proc = subprocess.Popen([ENGINES_SH, "podman", "system", "service", "--time=0",
                                      "unix://" + self.sock], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(self.sock):
                try:
                    if Engine(self.sock).raw("GET", "/_ping", timeout=5)[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("podman service on %s did not answer" % self.sock)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        self.log.close()


class EngineLostTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="execd-lost-")
        self.service = PodmanService(os.path.join(self.dir, "podman.sock"))
        self.service.start()
        self.shared = Engine(os.environ["EXECD_PODMAN_SOCKET"])

    def tearDown(self):
        self.d.cleanup()
        self.service.close()
        subprocess.run(["rm", "-rf", self.dir])

    def start_daemon(self, grace):
        backend = (', {{ name = "podman"; plugin = "podman"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "{i}" ]; engine_grace = "{g}"; }}'
                   ).format(s=self.service.sock, i=IMAGE, g=grace)
        self.d = Daemon(extra_backends=backend).start()

    def submit(self, script, **extra):
        status, doc = self.d.submit(shell_request("podman", script, **extra))
        self.assertEqual(status, 201, doc)
        return doc["execution_id"]

    def wait_running_container(self, eid):
        deadline = time.time() + 60
        while time.time() < deadline:
            status, doc = self.shared.inspect("execd-%s-1" % eid)
            if status == 200 and doc["State"]["Status"] == "running":
                return doc["Id"]
            time.sleep(0.1)
        self.fail("the container of %s did not start" % eid)

    def assert_no_container(self, eid, within=20):
        deadline = time.time() + within
        while self.shared.containers_of(eid) and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.shared.containers_of(eid), [])

    def test_engine_back_within_the_grace_re_attaches(self):
        self.start_daemon("30s")
        eid = self.submit("for i in 1 2 3 4 5 6; do echo line $i; sleep 1; done",
                          retry={"max_attempts": 2, "backoff_ms": 100})
        cid = self.wait_running_container(eid)
        time.sleep(1.5)
        self.service.stop()
        time.sleep(1)
        # The container runs on without the service; execd says it is down.
        self.assertEqual(self.shared.inspect(cid)[1]["State"]["Status"], "running")
        status, ready = self.d.request("GET", "/readyz")
        self.assertEqual(status, 503, ready)
        self.assertEqual(self.d.get(eid)[1]["state"], "RUNNING")
        self.service.start()
        doc = self.d.wait_state(eid, TERMINAL, timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1, doc["history"])
        logs = doc["result"]["logs"]
        for i in range(1, 7):
            self.assertEqual(logs.count("line %d\n" % i), 1, "logs: %r" % logs)
        self.assertIn("lost the podman engine", self.d.log_text())
        self.assertIn("re-attached to container", self.d.log_text())
        self.assert_no_container(eid)

    def test_each_outage_has_its_own_grace(self):
        # Two outages of 1 s, 5 s apart, under a 3 s grace: neither is too
        # long, though the second ends more than 3 s after the first began.
        self.start_daemon("3s")
        eid = self.submit("for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 1; done")
        self.wait_running_container(eid)
        for outage in (1, 2):
            self.service.stop()
            time.sleep(1)
            self.service.start()
            deadline = time.time() + 10
            while self.d.log_text().count("re-attached to container") < outage:
                self.assertLess(time.time(), deadline, "not re-attached")
                time.sleep(0.1)
            time.sleep(3)
        doc = self.d.wait_state(eid, TERMINAL, timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1)
        self.assertEqual(self.d.log_text().count("re-attached to container"), 2)
        logs = doc["result"]["logs"]
        for i in range(1, 11):
            self.assertEqual(logs.count("line %d\n" % i), 1, "logs: %r" % logs)
        self.assert_no_container(eid)

    def test_cancel_while_the_engine_is_away_reaches_the_container(self):
        self.start_daemon("30s")
        eid = self.submit("sleep 60")
        self.wait_running_container(eid)
        self.service.stop()
        time.sleep(1)
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 200, doc)
        self.service.start()
        doc = self.d.wait_state(eid, TERMINAL, timeout=60)
        self.assertEqual(doc["state"], "CANCELLED", doc)
        self.assertEqual(doc["attempts"], 1)
        self.assert_no_container(eid)

    def test_engine_away_past_the_grace_fails_the_attempt(self):
        self.start_daemon("2s")
        eid = self.submit("sleep 60")
        self.wait_running_container(eid)
        self.service.stop()
        doc = self.d.wait_state(eid, TERMINAL, timeout=30)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "backend_unavailable", doc)
        self.assertIn("not answering again within 2 s", doc["error"]["message"])
        # Nobody collects it now: it is removed once the engine answers.
        self.service.start()
        self.assert_no_container(eid)


if __name__ == "__main__":
    if not os.environ.get("EXECD_PODMAN_SOCKET"):
        print("SKIP: no podman engine (EXECD_PODMAN_SOCKET unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

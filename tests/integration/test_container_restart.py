"""kill -9 of execd while container executions run, then a restart: execd
re-attaches to the containers (the attempt is not run again), the logs are
complete and stored once, and no container, volume or workspace is left.
Runs against each engine named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET,
with the workspace bind-mounted (the default) and copied into a volume."""
import os
import signal
import subprocess
import sys
import time
import unittest

from daemon import Daemon
from engine_api import IMAGE, Engine, engines, shell_request, suite_per_engine


class ContainerRestartTest(unittest.TestCase):
    engine_name = None
    sock = None
    mount = None  # workspace_mount: "bind" or "volume"

    def setUp(self):
        if not self.engine_name:
            self.skipTest("abstract")
        self.engine = Engine(self.sock)
        backend = (', {{ name = "{n}"; plugin = "{n}"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "{i}" ]; workspace_mount = "{m}"; }}'
                   ).format(n=self.engine_name, s=self.sock, i=IMAGE, m=self.mount)
        self.d = Daemon(extra_backends=backend).start()

    def tearDown(self):
        self.d.cleanup()

    def submit(self, script, **extra):
        status, doc = self.d.submit(shell_request(self.engine_name, script, **extra))
        self.assertEqual(status, 201, doc)
        return doc["execution_id"]

    def container_and_volume(self, eid):
        """Waits until the attempt's container runs; returns its id and what
        is mounted at /workspace: the volume's name, or the host directory
        bind-mounted there."""
        deadline = time.time() + 60
        while time.time() < deadline:
            status, doc = self.engine.inspect("execd-%s-1" % eid)
            if status == 200 and doc["State"]["Status"] == "running":
                mounts = [m for m in doc["Mounts"] if m.get("Destination") == "/workspace"]
                self.assertEqual(len(mounts), 1, doc["Mounts"])
                if self.mount == "bind":
                    self.assertEqual(mounts[0]["Type"], "bind", mounts)
                    self.assertTrue(os.path.isdir(mounts[0]["Source"]), mounts)
                    return doc["Id"], mounts[0]["Source"]
                self.assertEqual(mounts[0]["Type"], "volume", mounts)
                return doc["Id"], mounts[0]["Name"]
            time.sleep(0.1)
        self.fail("the container of %s did not start" % eid)

    def assert_nothing_left(self, eid, volume):
        self.assertEqual(self.engine.containers_left(eid), [])
        if self.mount == "bind":
            # The workspace is removed on the thread pool once the
            # execution has ended.
            deadline = time.time() + 10
            while os.path.exists(volume) and time.time() < deadline:
                time.sleep(0.1)
            self.assertFalse(os.path.exists(volume), "workspace %s is left" % volume)
        else:
            self.assertFalse(self.engine.volume_exists(volume), "volume %s is left" % volume)

    def test_kill9_while_the_container_runs(self):
        eid = self.submit("echo first; echo to-stderr >&2; sleep 5; echo second")
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        # Storage holds the first lines before the kill (a log read returns
        # only what storage has written), so the replay must not repeat them.
        deadline = time.time() + 30
        while True:
            stored = self.d.request("GET", "/v1/executions/%s/logs" % eid)[1]
            if "first\n" in stored and "to-stderr\n" in stored:
                break
            self.assertLess(time.time(), deadline, "no log stored: %r" % stored)
            time.sleep(0.1)
        self.d.kill9()
        status, doc = self.engine.inspect(cid)
        self.assertEqual(doc["State"]["Status"], "running", "the container died with execd")
        self.d.start()
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1, "the attempt ran again: %s" % doc["history"])
        logs = doc["result"]["logs"]
        for line in ("first\n", "to-stderr\n", "second\n"):
            self.assertEqual(logs.count(line), 1, "result logs: %r" % logs)
        status, stored = self.d.request("GET", "/v1/executions/%s/logs" % eid)
        self.assertEqual(status, 200)
        for line in ("first\n", "to-stderr\n", "second\n"):
            self.assertEqual(stored.count(line), 1, "stored logs: %r" % stored)
        self.assertIn("re-attached to attempt 1", self.d.log_text())
        self.assert_nothing_left(eid, volume)

    def test_sigterm_exits_and_leaves_the_container_to_the_next_start(self):
        # The container ignores SIGTERM and outlives the shutdown grace:
        # execd exits within shutdown_grace + kill_grace + 1 s all the same
        # and re-attaches to the container at the next start.
        eid = self.submit("trap '' TERM; echo begun; sleep 8; echo ended")
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        start = time.monotonic()
        self.d.proc.send_signal(signal.SIGTERM)
        try:
            code = self.d.proc.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - start
        print("\n  SIGTERM to exit: %.2f s" % elapsed)
        self.assertEqual(code, 0, self.d.log_text())
        # Daemon(): shutdown_grace 2 s, kill_grace 1 s; a little room for a
        # loaded machine.
        self.assertLessEqual(elapsed, 2 + 1 + 1 + 1.5, "execd took %.1f s to exit" % elapsed)
        self.d.log.close()
        self.d.proc = None
        status, doc = self.engine.inspect(cid)
        self.assertEqual(doc["State"]["Status"], "running", "the container died with execd")
        self.d.start()
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1, "the attempt ran again: %s" % doc["history"])
        self.assertEqual(doc["result"]["logs"], "begun\nended\n")
        self.assert_nothing_left(eid, volume)

    def test_container_that_ended_while_execd_was_down(self):
        eid = self.submit("echo begun; sleep 2; echo '{\"n\": 7}' > $WORKSPACE_OUTPUT/result.json;"
                          " echo ended")
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        self.d.kill9()
        deadline = time.time() + 60
        while self.engine.inspect(cid)[1]["State"]["Status"] == "running":
            self.assertLess(time.time(), deadline, "the container did not end")
            time.sleep(0.2)
        self.d.start()
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1)
        self.assertEqual(doc["result"]["output"], {"n": 7})
        self.assertEqual(doc["result"]["logs"], "begun\nended\n")
        self.assert_nothing_left(eid, volume)

    def test_failed_exit_code_is_collected_after_restart(self):
        eid = self.submit("sleep 2; exit 3")
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        self.d.kill9()
        self.d.start()
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=60)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "exit_code", doc)
        self.assertEqual(doc["result"]["exit_code"], 3)
        self.assertEqual(doc["attempts"], 1)
        self.assert_nothing_left(eid, volume)

    def test_timeout_still_applies_after_restart(self):
        # A 3 s limit on a 60 s job: after the restart the rest of the limit
        # is enforced on the re-attached container.
        eid = self.submit("sleep 60", resources={"timeout": 3})
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        self.d.kill9()
        self.d.start()
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=50)
        self.assertEqual(doc["state"], "TIMED_OUT", doc)
        self.assertEqual(doc["attempts"], 1)
        self.assert_nothing_left(eid, volume)

    def test_cancel_after_restart(self):
        eid = self.submit("sleep 60")
        self.d.wait_state(eid, ["RUNNING"], timeout=60)
        cid, volume = self.container_and_volume(eid)
        self.d.kill9()
        self.d.start()
        self.assertIn("re-attached", self.d.log_text())
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 200, doc)
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"],
                                timeout=50)
        self.assertEqual(doc["state"], "CANCELLED", doc)
        self.assert_nothing_left(eid, volume)


def load_tests(loader, tests, pattern):
    return suite_per_engine(loader, ContainerRestartTest, "ContainerRestart", ("bind", "volume"))


if __name__ == "__main__":
    if not engines():
        print("SKIP: no container engine (EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

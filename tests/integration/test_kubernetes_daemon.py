"""The kubernetes-job backend inside a real execd against a real cluster
(kube-local; run by tests/conformance/run-kubernetes.sh, which skips
without one): cancel removes the Job and its pod; kill -9 of execd mid-run
and a restart re-adopt the Job (SUCCEEDED, full logs once, nothing left);
the API server stopped and started mid-run (the execution completes), or
away beyond api_grace (backend_unavailable, the Job removed once it is
back)."""
import os
import sys
import time
import unittest

from daemon import Daemon
from kube_api import API, CA, IMAGE, NAMESPACE, ApiServer, KubeAPI

FINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"]
# Executions whose Job and pod must be gone, checked together at the end
# (ZzNothingLeftTest): once execd has deleted a Job, the garbage collector
# and the kubelet take up to a minute on kube-local to remove its pod, and
# waiting for each test's pods in turn would add that minute each time.
GONE = []
TOKEN_FILE = os.environ.get("EXECD_KUBE_TOKEN_FILE", "")
RUN_DIR = os.environ.get("EXECD_KUBE_LOCAL_RUN", "/var/lib/kube-local/run")


def backend_config(name="kubernetes", **extra):
    """The backend's libconfig group, as the conformance run configures it
    (tests/conformance/kube-env.sh)."""
    keys = {"api_url": API, "ca_file": CA, "token_file": TOKEN_FILE, "namespace": NAMESPACE,
            "images_allowed": [IMAGE.split(":")[0] + ":*"], "helper_image": IMAGE,
            "pull": "never", "cpus": 0.1, "termination_grace": "10s", "host_network": True}
    keys.update(extra)
    text = []
    for k, v in keys.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = repr(v)
        elif isinstance(v, list):
            v = "[ %s ]" % ", ".join('"%s"' % x for x in v)
        else:
            v = '"%s"' % v
        text.append("%s = %s;" % (k, v))
    return ', { name = "%s"; plugin = "kubernetes-job"; %s }' % (name, " ".join(text))


def request(script, **extra):
    req = {"backend": "kubernetes",
           "container": {"image": IMAGE, "command": ["/bin/sh", "-c", script]},
           "output": {"logs": True}, "retry": {"max_attempts": 1}}
    req.update(extra)
    return req


class KubernetesDaemonTest(unittest.TestCase):
    backend_extra = {}

    def setUp(self):
        self.kube = KubeAPI()
        self.d = Daemon(extra_backends=backend_config(**self.backend_extra)).start()

    def tearDown(self):
        self.d.cleanup()

    def submit(self, script, **extra):
        status, doc = self.d.submit(request(script, **extra))
        self.assertEqual(status, 201, doc)
        return doc["execution_id"]

    def wait_log(self, eid, *lines, timeout=120):
        """Waits until storage holds LINES of the execution's log."""
        deadline = time.time() + timeout
        while True:
            stored = self.d.request("GET", "/v1/executions/%s/logs" % eid)[1]
            if all(line in stored for line in lines):
                return stored
            self.assertLess(time.time(), deadline, "not stored: %r; log: %r" % (lines, stored))
            time.sleep(0.1)

    def diag(self, doc):
        """DOC and the backend's lines of execd's log, for a failure."""
        lines = [l for l in self.d.log_text().splitlines() if "kubernetes" in l]
        return "%s\nexecd's log (kubernetes):\n%s" % (doc, "\n".join(lines[-60:]))

    def assert_nothing_left(self, eid):
        """The execution's Job and pod are to go: checked at the end (GONE)."""
        GONE.append((eid, self.id()))


class CancelTest(KubernetesDaemonTest):
    def test_cancel_deletes_the_job_and_its_pod(self):
        eid = self.submit("echo started; sleep 300")
        self.d.wait_state(eid, ["RUNNING"], timeout=120)
        self.wait_log(eid, "started\n")
        jobs, pods = self.kube.of_execution(eid)
        self.assertEqual(len(jobs), 1, jobs)
        self.assertEqual(len(pods), 1, pods)
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 200, doc)
        doc = self.d.wait_state(eid, FINAL, timeout=120)
        self.assertEqual(doc["state"], "CANCELLED", self.diag(doc))
        # The Job goes at once; its pod after its termination grace (at the end).
        deadline = time.time() + 30
        while self.kube.of_execution(eid)[0] and time.time() < deadline:
            time.sleep(0.2)
        jobs, pods = self.kube.of_execution(eid)
        self.assertEqual(jobs, [], "the Job is left after the cancel")
        print("\n  cancelled: Job deleted; pod now %s" % pods)
        self.assert_nothing_left(eid)


class RestartTest(KubernetesDaemonTest):
    def test_kill9_mid_run_and_restart(self):
        eid = self.submit("echo first; echo to-stderr >&2; sleep 8; echo second; "
                          "echo '{\"n\": 7}' > $WORKSPACE_OUTPUT/result.json; echo third")
        self.d.wait_state(eid, ["RUNNING"], timeout=120)
        # Storage holds the first lines before the kill: the replay of the
        # pod's log after the restart must not store them twice.
        self.wait_log(eid, "first\n", "to-stderr\n")
        self.d.kill9()
        jobs, pods = self.kube.of_execution(eid)
        self.assertEqual((len(jobs), len(pods)), (1, 1), "the Job went with execd: %s" % pods)
        self.d.start()
        doc = self.d.wait_state(eid, FINAL, timeout=120)
        self.assertEqual(doc["state"], "SUCCEEDED", self.diag(doc))
        self.assertEqual(doc["attempts"], 1, "the attempt ran again: %s" % doc["history"])
        self.assertEqual(doc["result"]["output"], {"n": 7}, self.diag(doc))
        want = ("first\n", "to-stderr\n", "second\n", "third\n")
        logs = doc["result"]["logs"]
        for line in want:
            self.assertEqual(logs.count(line), 1, "result logs: %r" % logs)
        status, stored = self.d.request("GET", "/v1/executions/%s/logs" % eid)
        self.assertEqual(status, 200)
        self.assertEqual(sorted(stored.splitlines(True)), sorted(want),
                         "stored logs: %r" % stored)
        self.assertIn("re-attached to attempt 1", self.d.log_text())
        print("\n  after kill -9 and restart: %s, stored log %r" % (doc["state"], stored))
        self.assert_nothing_left(eid)

    def test_job_that_ended_while_execd_was_down(self):
        eid = self.submit("echo begun; sleep 3; echo ended; "
                          "echo '{\"n\": 3}' > $WORKSPACE_OUTPUT/result.json; exit 3")
        self.d.wait_state(eid, ["RUNNING"], timeout=120)
        self.wait_log(eid, "begun\n")
        self.d.kill9()
        # The command ends; the pod waits for its outputs to be read.
        time.sleep(5)
        self.d.start()
        doc = self.d.wait_state(eid, FINAL, timeout=120)
        self.assertEqual(doc["state"], "FAILED", self.diag(doc))
        self.assertEqual(doc["result"]["exit_code"], 3, doc)
        self.assertEqual(doc["result"]["output"], {"n": 3}, self.diag(doc))
        self.assertEqual(doc["attempts"], 1)
        self.assertEqual(doc["result"]["logs"], "begun\nended\n")
        status, stored = self.d.request("GET", "/v1/executions/%s/logs" % eid)
        self.assertEqual(stored, "begun\nended\n")
        self.assert_nothing_left(eid)


class StopsTheApiServer(KubernetesDaemonTest):
    """Tests that stop kube-local's API server, and start it again
    whatever happens."""

    def setUp(self):
        self.apiserver = ApiServer(RUN_DIR)
        if not self.apiserver.available():
            self.skipTest("no kube-local API server to stop and start (%s/apiserver.pid)"
                          % RUN_DIR)
        super().setUp()

    def tearDown(self):
        try:
            if self.apiserver.argv:  # a failed test left it stopped
                self.apiserver.start(self.kube)
        finally:
            super().tearDown()


class ApiServerAwayTest(StopsTheApiServer):
    backend_extra = {"api_grace": "60s"}

    def test_api_server_stopped_and_started_mid_run(self):
        eid = self.submit("echo before; sleep 15; echo after; "
                          "echo '{\"ok\": true}' > $WORKSPACE_OUTPUT/result.json")
        self.d.wait_state(eid, ["RUNNING"], timeout=120)
        self.wait_log(eid, "before\n")
        self.apiserver.stop(self.kube)
        time.sleep(3)
        self.apiserver.start(self.kube)
        doc = self.d.wait_state(eid, FINAL, timeout=120)
        self.assertEqual(doc["state"], "SUCCEEDED", self.diag(doc))
        self.assertEqual(doc["attempts"], 1, doc["history"])
        self.assertEqual(doc["result"]["output"], {"ok": True}, self.diag(doc))
        self.assertEqual(doc["result"]["logs"].count("before\n"), 1, doc["result"]["logs"])
        self.assertEqual(doc["result"]["logs"].count("after\n"), 1, doc["result"]["logs"])
        self.assertIn("the API server answers again", self.d.log_text())
        self.assert_nothing_left(eid)


class ApiServerGoneTest(StopsTheApiServer):
    backend_extra = {"api_grace": "4s"}

    def test_api_server_away_beyond_the_grace(self):
        eid = self.submit("echo before; sleep 300")
        self.d.wait_state(eid, ["RUNNING"], timeout=120)
        self.wait_log(eid, "before\n")
        self.apiserver.stop(self.kube)
        try:
            doc = self.d.wait_state(eid, FINAL, timeout=60)
        finally:
            self.apiserver.start(self.kube)
        self.assertEqual(doc["state"], "FAILED", self.diag(doc))
        self.assertEqual(doc["error"]["code"], "backend_unavailable", doc)
        print("\n  API server away: %s" % doc["error"]["message"])
        # Back: the Job nobody runs any more is removed (with its pod) by
        # this execd's sweep, checked while it runs.
        left = self.kube.wait_gone(eid)
        self.assertEqual(left, ([], []), "left on the cluster after execution %s" % eid)


class ZzNothingLeftTest(unittest.TestCase):
    """Last (classes run in name order): no Job or pod of the executions of
    the tests above is left, then none at all in any namespace
    (`kubectl get jobs,pods -A`), polled with a bound of two minutes."""

    def test_no_job_or_pod_is_left(self):
        kube = KubeAPI()
        deadline = time.time() + 120
        for eid, test in GONE:
            left = kube.wait_gone(eid, bound=max(1, deadline - time.time()))
            self.assertEqual(left, ([], []), "left on the cluster after %s (%s)" % (test, eid))
            print("\n  %s: no Job or pod labelled execd.execution=%s" % (test.split(".")[-1], eid))
        left = kube.wait_gone(bound=max(1, deadline - time.time()))
        print("  jobs,pods -A at the end: %s" % (left,))
        self.assertEqual(left, ([], []), "left on the cluster")


if __name__ == "__main__":
    if not API or not TOKEN_FILE:
        print("SKIP: no Kubernetes cluster (KUBE_API, EXECD_KUBE_TOKEN_FILE unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

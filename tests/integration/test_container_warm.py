"""Warm containers (the backend's warm and warm_images keys): containers
made and started ahead, each given one execution through its launcher.
Against each engine named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET: a
warm execution gives what a cold one gives (result document, logs, output
files, environment, exit code, stdin); a slot is used once; the pool is
refilled; a request that tightens a limit goes the cold way; a stop
removes the warm containers, and a start removes those a killed daemon
left; the launcher refuses a hostile launch file."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from daemon import BUILDDIR, Daemon
from engine_api import IMAGE, Engine, engines, suite_per_engine

LAUNCHER = os.path.join(BUILDDIR, "lib", "container", "execd-warm-launch")

# Everything a job can see of its execution, the same warm or cold.
JOB = r"""set -e
read -r line || true
echo "stdin=$line"
echo "eid=$EXECUTION_ID attempt=$ATTEMPT custom=$CUSTOM pwd=$(pwd) uid=$(id -u)"
echo "to stderr" >&2
cp /workspace/input/input.json "$WORKSPACE_OUTPUT/in.txt"
printf '{"seen": %s}' "$(cat /workspace/input/input.json)" > "$WORKSPACE_OUTPUT/result.json"
exit 3
"""


class ContainerWarmTest(unittest.TestCase):
    engine_name = None
    sock = None

    @classmethod
    def setUpClass(cls):
        if not cls.engine_name:
            raise unittest.SkipTest("abstract")
        cls.engine = Engine(cls.sock)
        cls.d = cls.daemon().start()

    @classmethod
    def daemon(cls, state=None):
        backend = (', {{ name = "{n}"; plugin = "{n}"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "{i}" ]; warm = 2; warm_images = [ "{i}" ]; '
                   'warm_launcher = "{l}"; }}').format(n=cls.engine_name, s=cls.sock, i=IMAGE,
                                                       l=LAUNCHER)
        return Daemon(state=state, extra_backends=backend)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def warm_containers(self, daemon=None):
        """Ids of this daemon's warm containers, running or not."""
        d = daemon or self.d
        flt = urllib.parse.quote(json.dumps({"label": ["execd.daemon=" + d.state]}))
        status, doc = self.engine.call("GET", "/containers/json?all=1&filters=" + flt)
        self.assertEqual(status, 200, doc)
        return sorted(c["Id"] for c in doc if "execd.warm" in (c.get("Labels") or {}))

    def wait_pool(self, n=2, daemon=None, since=0, within=60):
        """Until n warm containers are ready (started, their launcher
        waiting) as the daemon's log says from offset since on; their ids."""
        d = daemon or self.d
        deadline = time.time() + within
        while time.time() < deadline:
            log = d.log_text()[since:]
            ready = (len(re.findall(r"warm container execd-warm-\S+ ready for ", log)) -
                     log.count(": runs in warm container "))
            if ready >= n:
                flt = urllib.parse.quote(json.dumps({"label": ["execd.daemon=" + d.state],
                                                     "status": ["running"]}))
                status, doc = self.engine.call("GET", "/containers/json?filters=" + flt)
                return sorted(c["Id"] for c in doc if "execd.warm" in (c.get("Labels") or {}))
            time.sleep(0.05)
        self.fail("the pool did not reach %d ready warm containers: %s" %
                  (n, d.log_text()[-3000:]))

    def warm_runs(self, eid, daemon=None):
        return (daemon or self.d).log_text().count("execution %s: runs in warm container" % eid)

    def run_job(self, daemon=None, **extra):
        req = {"backend": self.engine_name,
               "container": {"image": IMAGE, "command": ["/bin/sh", "-c", JOB]},
               "io": "raw", "input": {"data": {"k": 1}}, "environment": {"CUSTOM": "v w"},
               "output": {"logs": True, "files": ["*.txt"]}, "resources": {"timeout": 60}}
        req.update(extra)
        status, doc = (daemon or self.d).submit(req, wait=90)
        self.assertEqual(status, 201, doc)
        return doc

    def comparable(self, doc):
        """What must not differ between a warm and a cold execution."""
        r = doc["result"]
        logs = r["logs"].replace(doc["execution_id"], "EID")
        return (doc["state"], r.get("exit_code"), r.get("output"), sorted(logs.splitlines()),
                [(f["name"], f["sha256"]) for f in r["output_files"]],
                (doc.get("error") or {}).get("code"))

    def test_1_warm_gives_what_cold_gives(self):
        self.wait_pool()
        warm = self.run_job()
        self.assertEqual(self.warm_runs(warm["execution_id"]), 1, "not run warm")
        # A request that tightens a limit does not fit the slots: cold.
        cold = self.run_job(resources={"timeout": 60, "memory": "256M"})
        self.assertEqual(self.warm_runs(cold["execution_id"]), 0, "a tightened request ran warm")
        self.assertEqual(warm["state"], "FAILED", warm)
        self.assertEqual(warm["result"]["exit_code"], 3, warm)
        self.assertEqual(self.comparable(warm), self.comparable(cold))
        self.assertIn("eid=EID attempt=1 custom=v w pwd=/ uid=65534",
                      warm["result"]["logs"].replace(warm["execution_id"], "EID"))
        self.assertEqual(warm["result"]["output"], {"seen": {"k": 1}})
        self.assertEqual(self.engine.containers_left(warm["execution_id"]), [])

    def test_2_stdin_of_json_io(self):
        self.wait_pool()
        doc = self.run_job(container={"image": IMAGE, "command": [
            "/bin/sh", "-c", 'read -r l; echo "{\\"ok\\": true, \\"output\\": $l}"']},
            io="json", output={"logs": True})
        self.assertEqual(self.warm_runs(doc["execution_id"]), 1, "not run warm")
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"]["input"], {"k": 1})

    def test_3_a_slot_serves_once_and_the_pool_refills(self):
        before = self.wait_pool()
        a = self.run_job()
        b = self.run_job()
        self.assertEqual(self.warm_runs(a["execution_id"]) + self.warm_runs(b["execution_id"]), 2)
        log = self.d.log_text()
        name_a = log.split("execution %s: runs in warm container " % a["execution_id"])[1].split()[0]
        name_b = log.split("execution %s: runs in warm container " % b["execution_id"])[1].split()[0]
        self.assertNotEqual(name_a, name_b, "one warm container served two executions")
        after = self.wait_pool()
        self.assertEqual(len(after), 2)
        self.assertFalse(set(before) & set(after), "a used warm container is still in the pool")

    def test_4_stop_removes_and_start_sweeps(self):
        d = self.daemon().start()
        try:
            self.wait_pool(daemon=d)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.warm_containers(d), [], "a stop left warm containers")
            self.assertFalse(os.path.exists(os.path.join(d.state, "warm", self.engine_name)) and
                             os.listdir(os.path.join(d.state, "warm", self.engine_name)))
            since = len(d.log_text())
            d.start()
            left = self.wait_pool(daemon=d, since=since)
            d.kill9()
            self.assertEqual(sorted(set(self.warm_containers(d)) & set(left)), left,
                             "kill -9 removed warm containers")
            since = len(d.log_text())
            d.start()
            self.wait_pool(daemon=d, since=since)
            deadline = time.time() + 30
            while set(self.warm_containers(d)) & set(left) and time.time() < deadline:
                time.sleep(0.1)
            self.assertFalse(set(self.warm_containers(d)) & set(left),
                             "the start did not remove the killed daemon's warm containers")
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.warm_containers(d), [])
        finally:
            d.cleanup()


class LauncherTest(unittest.TestCase):
    """The launcher, outside any container: it execs what a good launch
    file says and refuses a hostile one."""

    def launch(self, content):
        with tempfile.TemporaryDirectory(prefix="execd-warm-launch-") as ctl:
            os.mkfifo(os.path.join(ctl, "go"))
            with open(os.path.join(ctl, "launch"), "wb") as f:
                f.write(content)
            p = subprocess.Popen([LAUNCHER, ctl], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={"PATH": "/usr/bin:/bin", "KEEP": "1"})
            fd = None
            deadline = time.time() + 10
            while fd is None and time.time() < deadline:
                try:
                    fd = os.open(os.path.join(ctl, "go"), os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    time.sleep(0.01)
            os.close(fd)
            out, err = p.communicate(timeout=10)
            return p.returncode, out.decode(), err.decode()

    def test_good_launch_file(self):
        code, out, err = self.launch(b"execd-launch 1\n/tmp\x001\x00env\x002\x00A=1\x00KEEP=2\x00")
        self.assertEqual(code, 0, err)
        self.assertIn("A=1\n", out)
        self.assertIn("KEEP=2\n", out)
        self.assertNotIn("KEEP=1", out)

    def test_hostile_launch_files(self):
        for content, why in [
                (b"execd-launch 1\n/\x001\x00/bin/true\x00" + b"0" * 10, "ends before the count"),
                (b"not a launch file", "does not start"),
                (b"execd-launch 1\n/\x009999\x00/bin/true\x000\x00", "more than the file"),
                (b"execd-launch 1\nrel\x001\x00/bin/true\x000\x00", "absolute"),
                (b"execd-launch 1\n/\x001\x00/bin/true\x001\x00NOEQUALS\x00", "NAME=value"),
                (b"execd-launch 1\n/\x001\x00/bin/true\x000\x00junk", "after the last"),
                (b"execd-launch 1\n/\x001\x00/bin/true\x000\x00" + b"x" * (5 << 20), "larger"),
        ]:
            code, out, err = self.launch(content)
            self.assertEqual(code, 127, (why, err))
            self.assertIn(why, err)


def load_tests(loader, tests, pattern):
    suite = suite_per_engine(loader, ContainerWarmTest, "Warm")
    suite.addTests(loader.loadTestsFromTestCase(LauncherTest))
    return suite


if __name__ == "__main__":
    unittest.main()

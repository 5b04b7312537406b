"""The workspace disk quota on the container backends with the workspace
bind-mounted: the container sees the host workspace, a tmpfs of
workspace_max bytes, so a job writing more gets ENOSPC and the attempt fails
with workspace_full; no mount remains afterwards.  Runs against each engine
named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET."""
import os
import sys
import time
import unittest

from daemon import Daemon
from engine_api import engines, shell_request, suite_per_engine
from test_workspace_quota import mounts_under

MIB = 1 << 20


class ContainerWorkspaceQuotaTest(unittest.TestCase):
    engine_name = None
    sock = None
    mount = None

    @classmethod
    def setUpClass(cls):
        if not cls.engine_name:
            raise unittest.SkipTest("abstract")
        backend = (', {{ name = "{n}"; plugin = "{n}"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "*" ]; workspace_mount = "bind"; '
                   'defaults = {{ workspace_max = "8M"; }}; }}'
                   ).format(n=cls.engine_name, s=cls.sock)
        cls.d = Daemon(extra_backends=backend)
        try:
            cls.d.start()
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_write_past_the_quota_gets_enospc(self):
        # busybox head says "I/O error"; dd names the errno.
        script = ('dd if=/dev/zero of=/workspace/output/big bs=1048576 count=32; rc=$?; '
                  'echo "size=$(wc -c < /workspace/output/big)"; exit $rc')
        req = shell_request(self.engine_name, script, resources={"timeout": 60})
        status, doc = self.d.submit(req, wait=90)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "FAILED", doc)
        logs = doc["result"]["logs"]
        self.assertIn("No space left on device", logs)
        self.assertLessEqual(int(logs.split("size=")[1].split()[0]), 8 * MIB, logs)
        self.assertEqual(doc["error"]["code"], "workspace_full", doc)
        work = os.path.join(self.d.state, "work")
        deadline = time.time() + 30
        while mounts_under(work) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(mounts_under(work), [])


def load_tests(loader, tests, pattern):
    return suite_per_engine(loader, ContainerWorkspaceQuotaTest, "ContainerWorkspaceQuota")


if __name__ == "__main__":
    if not engines():
        print("SKIP: no container engine (EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

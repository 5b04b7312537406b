"""The job I/O contract on the container backends, through the real daemon,
with the workspace bind-mounted (the default) and copied into a volume:
the job, a non-root user, reads input.json, documents, files (a 0600 one
too) and config.json, and writes result.json and files that come back with
their sha256; what a hostile job leaves in its output directory (symlinks
to host files, a symlinked directory, a FIFO) is never read through; the
host workspace is gone afterwards; progress and checkpoints from the
job's log lines reach the record and the next attempt.  Runs against each engine named by
EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET."""
import hashlib
import os
import sys
import time
import unittest

from daemon import Daemon
from engine_api import IMAGE, Engine, engines, suite_per_engine

# Run by busybox sh as uid 65534; any failed step fails the job.
CONTRACT_JOB = r"""set -e
O=$WORKSPACE_OUTPUT
[ "$WORKSPACE_INPUT" = /workspace/input ] && [ "$WORKSPACE_CONFIG" = /workspace/config ]
cp /workspace/input/secret.txt "$O/secret-copy.txt"
cp /workspace/input/graph.json "$O/graph.txt"
cp /workspace/config/config.json "$O/config.txt"
mkdir "$O/sub" && echo nested > "$O/sub/n.txt"
if [ "$EXPECT_ROOT_OWNED" = 1 ] && touch /workspace/not-allowed 2>/dev/null; then
  echo "wrote into /workspace"; exit 9
fi
printf '{"uid": %s, "input": %s, "env_input": %s}' "$(id -u)" \
  "$(cat /workspace/input/input.json)" "$INPUT_DATA" > "$O/result.json"
"""

# Leaves links to host paths where outputs are read from.
HOSTILE_JOB = r"""set -e
O=$WORKSPACE_OUTPUT
ln -s /etc/hostname "$O/result.json"
ln -s /etc/passwd "$O/passwd.txt"
ln -s /etc "$O/etcdir"
mkfifo "$O/fifo.txt"
echo real > "$O/real.txt"
"""


class ContainerWorkspaceTest(unittest.TestCase):
    engine_name = None
    sock = None
    mount = None

    @classmethod
    def setUpClass(cls):
        if not cls.engine_name:
            raise unittest.SkipTest("abstract")
        backend = (', {{ name = "{n}"; plugin = "{n}"; socket = "{s}"; pull = "never"; '
                   'images_allowed = [ "{i}" ]; workspace_mount = "{m}"; output_max = "1G"; }}'
                   ).format(n=cls.engine_name, s=cls.sock, i=IMAGE, m=cls.mount)
        cls.d = Daemon(extra_backends=backend).start()
        cls.engine = Engine(cls.sock)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_job(self, script, **extra):
        req = {"backend": self.engine_name,
               "container": {"image": IMAGE, "command": ["/bin/sh", "-c", script]},
               "resources": {"timeout": 60}}
        req.update(extra)
        status, doc = self.d.submit(req, wait=90)
        self.assertEqual(status, 201, doc)
        self.assertIn(doc["state"], ("SUCCEEDED", "FAILED"), doc)
        self.assertEqual(self.engine.containers_left(doc["execution_id"]), [])
        return doc

    def assert_workspaces_gone(self):
        # Removed on the thread pool once the execution has ended.
        work = os.path.join(self.d.state, "work")
        deadline = time.time() + 10
        while os.path.isdir(work) and os.listdir(work) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(os.listdir(work) if os.path.isdir(work) else [], [])

    def test_inputs_in_outputs_back(self):
        secret = "only for the job\n"
        doc = self.run_job(
            CONTRACT_JOB,
            input={"data": {"k": [1, 2]},
                   "files": [{"path": "secret.txt", "content": secret, "mode": "0600"}],
                   "documents": {"graph": {"nodes": [1], "relationships": []}},
                   "config": {"param": "v"}},
            output={"files": ["*.txt", "sub/*.txt"]},
            # A bind-mounted workspace stays root's; podman gives a volume's
            # root to the container's user.
            environment={"EXPECT_ROOT_OWNED": "1" if self.mount == "bind" else "0"})
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"],
                         {"uid": 65534, "input": {"k": [1, 2]}, "env_input": {"k": [1, 2]}})
        files = {f["name"]: f for f in doc["result"]["output_files"]}
        self.assertEqual(sorted(files), ["config.txt", "graph.txt", "secret-copy.txt", "sub/n.txt"])
        self.assertEqual(files["secret-copy.txt"]["content"], secret)
        self.assertEqual(files["secret-copy.txt"]["sha256"],
                         hashlib.sha256(secret.encode()).hexdigest())
        self.assertEqual(files["secret-copy.txt"]["size"], len(secret))
        self.assertEqual(files["config.txt"]["content"], '{"param":"v"}')
        self.assertEqual(files["graph.txt"]["content"], '{"nodes":[1],"relationships":[]}')
        self.assertEqual(files["sub/n.txt"]["content"], "nested\n")
        self.assert_workspaces_gone()

    def test_progress_and_checkpoint_reach_the_next_attempt(self):
        script = ("echo '::execd::progress {\"percent\": 40, \"message\": \"m\"}'; "
                  "if [ \"$ATTEMPT\" = 1 ]; then "
                  "echo '::execd::checkpoint {\"token\": \"step-2\", \"data\": {\"i\": 7}}'; "
                  "exit 1; fi; "
                  "cat /workspace/input/checkpoint.json > $WORKSPACE_OUTPUT/result.json; "
                  "echo token=$CHECKPOINT_TOKEN")
        doc = self.run_job(script, retry={"max_attempts": 2, "backoff_ms": 10},
                           output={"logs": True})
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 2, doc)
        self.assertEqual(doc["result"]["output"], {"i": 7})
        self.assertIn("token=step-2\n", doc["result"]["logs"])
        self.assertEqual(doc["progress"]["percent"], 40)
        self.assertNotIn("::execd::", doc["result"]["logs"])
        self.assert_workspaces_gone()

    def test_links_and_fifos_in_the_output_are_not_read(self):
        doc = self.run_job(HOSTILE_JOB, output={"files": ["*.txt", "etcdir/*"]})
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertIsNone(doc["result"]["output"], "result.json was read through a symlink")
        names = [f["name"] for f in doc["result"]["output_files"]]
        self.assertEqual(names, ["real.txt"])
        self.assert_workspaces_gone()

    def test_large_outputs_come_back_in_bounded_memory(self):
        """3 x 190 MB outputs, read in place (bind) or copied out of the
        volume through a spool file, hashed in chunks: the daemon's peak RSS
        stays under 100 MB."""
        size = 190 << 20
        doc = self.run_job("cd \"$WORKSPACE_OUTPUT\" && for f in a b c; do "
                           "dd if=/dev/zero of=$f.bin bs=1048576 count=190 2>/dev/null "
                           "|| exit 1; done", output={"files": ["*.bin"]})
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        zeros = hashlib.sha256()
        block = bytes(1 << 20)
        for _ in range(190):
            zeros.update(block)
        files = {f["name"]: f for f in doc["result"]["output_files"]}
        self.assertEqual(sorted(files), ["a.bin", "b.bin", "c.bin"])
        for f in files.values():
            self.assertEqual((f["size"], f["sha256"]), (size, zeros.hexdigest()), f["name"])
        with open("/proc/%d/status" % self.d.proc.pid) as st:
            peak = [int(l.split()[1]) * 1024 for l in st if l.startswith("VmHWM:")][0]
        print("daemon VmHWM after 3 x 190 MB outputs (%s): %.1f MB"
              % (self.mount, peak / (1 << 20)), file=sys.stderr)
        self.assertLess(peak, 100 << 20)
        self.assert_workspaces_gone()


def load_tests(loader, tests, pattern):
    return suite_per_engine(loader, ContainerWorkspaceTest, "ContainerWorkspace",
                            ("bind", "volume"))

if __name__ == "__main__":
    if not engines():
        print("SKIP: no container engine (EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

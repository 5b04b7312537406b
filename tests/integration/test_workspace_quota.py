"""Integration tests of the workspace disk quota: with workspace_max set,
each attempt's workspace is a tmpfs of that size, so a job that writes more
gets ENOSPC instead of filling the state directory's file system, and no
such mount outlives its attempt, nor a kill -9 of execd."""
import os
import signal
import time
import unittest

from daemon import Daemon, mounts_under

SH = "/bin/sh"
MIB = 1 << 20
QUOTA = 8 * MIB


def sh(script, **extra):
    req = {"container": {"command": [SH, "-c", script]}}
    req.update(extra)
    return req


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_until(check, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("gave up waiting for " + what)


class QuotaDaemon(Daemon):
    """The test daemon with workspace_max in the local backend's defaults."""

    def write_config(self, port=0):
        path = super().write_config(port)
        with open(path) as f:
            text = f.read()
        text = text.replace('defaults = { memory = "1G";',
                            'defaults = { memory = "1G"; workspace_max = "8M";')
        with open(path, "w") as f:
            f.write(text)
        return path


class WorkspaceQuotaTest(unittest.TestCase):
    def setUp(self):
        self.d = QuotaDaemon()
        try:
            self.d.start()
        except Exception:
            self.d.cleanup()
            raise
        self.work = os.path.join(self.d.state, "work")

    def tearDown(self):
        self.d.cleanup()

    def test_write_past_the_quota_gets_enospc(self):
        """32 MB written to output/ stops at 8 MB with ENOSPC in the job's own
        log; the attempt fails with workspace_full; the bytes went to a tmpfs,
        not to the state directory; nothing stays mounted; the daemon still
        runs jobs and collects their outputs from the tmpfs."""
        script = ('head -c %d /dev/zero > "$WORKSPACE_OUTPUT/big"; rc=$?; '
                  'echo "fs=$(stat -f -c %%T "$WORKSPACE_OUTPUT")"; '
                  'echo "size=$(wc -c < "$WORKSPACE_OUTPUT/big")"; exit $rc' % (32 * MIB))
        status, doc = self.d.submit(sh(script, output={"logs": True}), wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "FAILED", doc)
        logs = doc["result"]["logs"]
        self.assertNotEqual(doc["result"]["exit_code"], 0, doc)
        self.assertIn("No space left on device", logs)
        self.assertIn("fs=tmpfs", logs)
        size = int(logs.split("size=")[1].split()[0])
        self.assertLessEqual(size, QUOTA, logs)
        self.assertEqual(doc["error"]["code"], "workspace_full", doc)
        self.assertIn("8388608", doc["error"]["message"], doc)
        # Unmounted, then removed (on the thread pool, after the answer).
        wait_until(lambda: not mounts_under(self.work), "the workspace to be unmounted")
        wait_until(lambda: os.listdir(self.work) == [], "the workspace to be removed")
        self.assertIn("workspace", self.d.log_text())

        status, doc = self.d.submit(sh('echo \'{"n": 1}\' > "$WORKSPACE_OUTPUT/result.json"'),
                                    wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"], {"n": 1})
        wait_until(lambda: not mounts_under(self.work), "the workspace to be unmounted")

    def test_a_request_may_only_tighten_the_quota(self):
        status, doc = self.d.submit(sh("true", resources={"workspace_max": "16M"}))
        self.assertEqual(status, 422, doc)
        self.assertIn("resources.workspace_max", str(doc))
        status, doc = self.d.submit(sh('head -c %d /dev/zero > "$WORKSPACE_OUTPUT/f"' % (2 * MIB),
                                       resources={"workspace_max": "1M"}), wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "workspace_full", doc)

    def test_no_mount_left_after_kill9(self):
        """execd killed while a job runs in its tmpfs workspace: the next start
        unmounts and removes it."""
        status, doc = self.d.submit(sh('echo $$ > "$WORKSPACE_OUTPUT/pid"; '
                                       'head -c %d /dev/zero > "$WORKSPACE_OUTPUT/f"; '
                                       'exec sleep 60' % MIB))
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        self.d.wait_state(eid, ["RUNNING"])
        wait_until(lambda: mounts_under(self.work), "the workspace to be mounted")
        pid_file = os.path.join(mounts_under(self.work)[0], "output", "pid")
        wait_until(lambda: read(pid_file).strip(), "the job to start")
        job_pid = int(read(pid_file))
        self.d.kill9()
        self.assertTrue(mounts_under(self.work))
        try:
            self.d.start()
            self.d.wait_state(eid, ["FAILED", "SUCCEEDED", "CANCELLED", "TIMED_OUT"], timeout=60)
            wait_until(lambda: not mounts_under(self.work), "the leftover mount to be removed")
        finally:
            try:
                os.kill(job_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def test_cleanup_after_a_crash_unmounts_and_removes_everything(self):
        """The test harness's cleanup after execd died with a job in its
        tmpfs workspace: the mount goes, then the whole state directory."""
        status, doc = self.d.submit(sh('echo $$ > "$WORKSPACE_OUTPUT/pid"; exec sleep 60'))
        self.assertEqual(status, 201, doc)
        self.d.wait_state(doc["execution_id"], ["RUNNING"])
        wait_until(lambda: mounts_under(self.work), "the workspace to be mounted")
        pid_file = os.path.join(mounts_under(self.work)[0], "output", "pid")
        wait_until(lambda: read(pid_file).strip(), "the job to start")
        job_pid = int(read(pid_file))
        self.d.kill9()
        try:
            os.kill(job_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.assertTrue(mounts_under(self.work))
        self.d.cleanup()
        self.assertEqual(mounts_under(self.d.state), [])
        self.assertFalse(os.path.exists(self.d.state))


if __name__ == "__main__":
    unittest.main()

"""Integration tests of the daemon's own life: SIGTERM with jobs that will
not end, the peak memory a local job reports, and what a local job leaves
behind when it ends or when execd is killed."""
import os
import random
import signal
import subprocess
import time
import unittest

from daemon import Daemon

SH = "/bin/sh"

LIFECYCLE_CONFIG = """
daemon: {{ state_dir = "{state}"; max_running = 8; log_level = "debug";
          kill_grace = "{kill_grace}"; shutdown_grace = "{shutdown_grace}"; }};
storage: {{ plugin = "file"; path = "{state}/store"; }};
backends: ( {{ name = "local"; plugin = "local";
              commands_allowed = [ "/bin/*", "/usr/bin/*" ];
              cgroups = {cgroups};
              defaults = {{ timeout = "2m"; }}; }} );
transports: ( {{ plugin = "http"; listen = "127.0.0.1:{port}"; tokens_file = "{state}/tokens"; }} );
"""


class LifecycleDaemon(Daemon):
    """A daemon with its own grace periods and cgroups setting."""

    def __init__(self, shutdown_grace=3, kill_grace=1, cgroups=True):
        super().__init__()
        self.shutdown_grace = shutdown_grace
        self.kill_grace = kill_grace
        self.cgroups = cgroups

    def write_config(self, port=0):
        path = os.path.join(self.state, "execd.conf")
        with open(path, "w") as f:
            f.write(LIFECYCLE_CONFIG.format(
                state=self.state, port=port, kill_grace="%ds" % self.kill_grace,
                shutdown_grace="%ds" % self.shutdown_grace,
                cgroups="true" if self.cgroups else "false"))
        return path


def sh(script, **extra):
    req = {"container": {"command": [SH, "-c", script]}}
    req.update(extra)
    return req


def pids_of(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def unique_sleep():
    """A sleep duration no other process on the host uses: its command line
    is the marker pgrep looks for."""
    return "1000.%09d" % random.randrange(10**9)


def kill_leftovers(marker):
    for pid in pids_of(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ShutdownTest(unittest.TestCase):
    """SIGTERM: running jobs get shutdown_grace, then SIGTERM, then SIGKILL
    after kill_grace; execd exits within grace + kill_grace + 1 s and leaves
    the attempt to recovery."""

    def run_term_ignoring_job(self, d, marker):
        status, doc = d.submit(sh("trap '' TERM; sleep %s; : %s" % (marker, marker)))
        self.assertEqual(status, 201, doc)
        d.wait_state(doc["execution_id"], ["RUNNING"])
        self.assertTrue(wait_for(lambda: pids_of(marker), 10), "the job did not start")
        return doc["execution_id"]

    def test_sigterm_exits_within_grace_and_kill_grace(self):
        grace, kill_grace = 3, 1
        d = LifecycleDaemon(shutdown_grace=grace, kill_grace=kill_grace).start()
        marker = unique_sleep()
        try:
            eid = self.run_term_ignoring_job(d, marker)
            start = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            try:
                code = d.proc.wait(90)
            except subprocess.TimeoutExpired:
                code = None
            elapsed = time.monotonic() - start
            print("\n  SIGTERM to exit: %.2f s (promise: %d s)" % (elapsed, grace + kill_grace + 1))
            self.assertEqual(code, 0, d.log_text())
            # The documented promise, with a little room for a loaded machine.
            self.assertLessEqual(elapsed, grace + kill_grace + 1 + 1.5,
                                 "execd took %.1f s to exit" % elapsed)
            self.assertTrue(wait_for(lambda: not pids_of(marker), 5),
                            "the job outlived execd")
            d.log.close()
            d.proc = None
            # The attempt was left to recovery: the next start fails it
            # as interrupted by the restart instead of losing it.
            d.start()
            doc = d.wait_state(eid, ["FAILED", "SUCCEEDED", "CANCELLED", "TIMED_OUT"])
            self.assertEqual(doc["state"], "FAILED", doc)
            self.assertEqual(doc["error"]["code"], "daemon_restart", doc)
        finally:
            kill_leftovers(marker)
            d.cleanup()

    def test_second_sigterm_exits_promptly(self):
        grace, kill_grace = 60, 30
        d = LifecycleDaemon(shutdown_grace=grace, kill_grace=kill_grace).start()
        marker = unique_sleep()
        try:
            self.run_term_ignoring_job(d, marker)
            d.proc.send_signal(signal.SIGTERM)
            self.assertTrue(wait_for(lambda: "draining" in d.log_text(), 10))
            start = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            try:
                code = d.proc.wait(grace + kill_grace)
            except subprocess.TimeoutExpired:
                code = None
            elapsed = time.monotonic() - start
            print("\n  second SIGTERM to exit: %.2f s" % elapsed)
            self.assertEqual(code, 0, d.log_text())
            # Far below the grace periods it no longer waits for.
            self.assertLess(elapsed, 10, "execd took %.1f s to exit" % elapsed)
            self.assertTrue(wait_for(lambda: not pids_of(marker), 5),
                            "the job outlived execd")
        finally:
            kill_leftovers(marker)
            d.cleanup()


def vm_hwm_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class MaxRssTest(unittest.TestCase):
    """max_rss_bytes is the job's own peak, never the daemon's."""

    def check_max_rss(self, cgroups):
        d = LifecycleDaemon(cgroups=cgroups).start()
        try:
            # Make the daemon big first: a large request body passes
            # through its memory.
            big = {"blob": "x" * (6 << 20)}
            status, doc = d.submit(sh("true", input={"data": big}), wait=60)
            self.assertEqual(status, 201, doc)
            daemon_peak = vm_hwm_bytes(d.proc.pid)
            self.assertGreater(daemon_peak, 48 << 20, "the daemon did not grow")
            status, small = d.submit({"container": {"command": ["/bin/true"]}}, wait=60)
            self.assertEqual(small["state"], "SUCCEEDED", small)
            # Memory touched by the job itself: 64 MB; without cgroups, more
            # than the daemon's peak, since rusage alone cannot tell a
            # smaller peak of the job from the daemon's (it is then 0,
            # unknown).
            size = 64 << 20 if cgroups else daemon_peak + (64 << 20)
            status, large = d.submit(
                {"container": {"command": ["/usr/bin/python3", "-c",
                                           "b = bytearray(%d)\n"
                                           "for i in range(0, len(b), 4096): b[i] = 1" % size]}},
                wait=60)
            self.assertEqual(large["state"], "SUCCEEDED", large)
            small_rss = small["result"]["max_rss_bytes"]
            large_rss = large["result"]["max_rss_bytes"]
            print("\n  cgroups %s: daemon peak %d MB, /bin/true %.1f MB, %d MB job %.1f MB"
                  % (cgroups, daemon_peak >> 20, small_rss / 2**20, size >> 20,
                     large_rss / 2**20))
            self.assertLess(small_rss, 16 << 20, small["result"])
            self.assertGreaterEqual(large_rss, size, large["result"])
            self.assertLess(large_rss, size + (64 << 20), large["result"])
        finally:
            d.cleanup()

    def test_max_rss_with_cgroups(self):
        self.check_max_rss(True)

    def test_max_rss_without_cgroups(self):
        self.check_max_rss(False)


class LeftoverProcessTest(unittest.TestCase):
    """With cgroups off, a job's detached descendants (setsid, double fork)
    do not outlive its attempt, nor a kill -9 of execd."""

    def detached(self, marker):
        # setsid(1) makes a new session; the subshell's own exit makes it an
        # orphan (a double fork).
        return ("(setsid /bin/sh -c 'exec sleep %s' </dev/null >/dev/null 2>&1 &); "
                % marker)

    def test_detached_grandchild_ends_with_its_attempt(self):
        d = LifecycleDaemon(cgroups=False).start()
        marker = unique_sleep()
        try:
            status, doc = d.submit(sh(self.detached(marker) + "sleep 1; echo done"), wait=60)
            self.assertEqual(doc["state"], "SUCCEEDED", doc)
            self.assertTrue(wait_for(lambda: not pids_of(marker), 10),
                            "the detached grandchild outlived its attempt")
        finally:
            kill_leftovers(marker)
            d.cleanup()

    def test_detached_grandchild_is_killed_at_recovery_after_kill9(self):
        d = LifecycleDaemon(cgroups=False).start()
        marker = unique_sleep()
        try:
            status, doc = d.submit(sh(self.detached(marker) + "sleep 600"))
            self.assertEqual(status, 201, doc)
            eid = doc["execution_id"]
            d.wait_state(eid, ["RUNNING"])
            self.assertTrue(wait_for(lambda: pids_of(marker), 10), "no grandchild")
            d.kill9()
            # It survived execd: only recovery can end it.
            time.sleep(0.5)
            self.assertTrue(pids_of(marker), "the grandchild died with execd")
            d.start()
            doc = d.wait_state(eid, ["FAILED", "SUCCEEDED"])
            self.assertTrue(wait_for(lambda: not pids_of(marker), 10),
                            "the grandchild outlived recovery")
        finally:
            kill_leftovers(marker)
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Integration tests of what execd keeps from a job: output files collected
without holding them in memory, and stored logs cut at their cap with a
marker and a flag on the execution."""
import hashlib
import json
import os
import unittest

from daemon import Daemon

SH = "/bin/sh"
MIB = 1 << 20


def sh(script, **extra):
    req = {"container": {"command": [SH, "-c", script]}}
    req.update(extra)
    return req


def peak_rss_bytes(pid):
    """The process's peak resident set (VmHWM) in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for pid %d" % pid)


def sha256_of_zeros(size):
    h = hashlib.sha256()
    block = bytes(MIB)
    while size:
        n = min(size, len(block))
        h.update(block[:n])
        size -= n
    return h.hexdigest()


class OutputCollectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_large_outputs_do_not_grow_the_daemon(self):
        """Four jobs at once, each leaving 3 x 190 MB outputs (sparse: they
        read as zeros): every file is reported with its size and sha256, and
        the daemon's peak RSS stays under 100 MB."""
        size = 190 * MIB
        script = ("cd \"$WORKSPACE_OUTPUT\" && for f in a b c; do "
                  "truncate -s %d $f.bin || exit 1; done; echo small > note.txt" % size)
        ids = []
        for _ in range(4):
            status, doc = self.d.submit(sh(script, output={"files": ["*.bin", "*.txt"]}))
            self.assertEqual(status, 201, doc)
            ids.append(doc["execution_id"])
        zeros = sha256_of_zeros(size)
        for eid in ids:
            doc = self.d.wait_state(eid, ("SUCCEEDED", "FAILED"), timeout=300)
            self.assertEqual(doc["state"], "SUCCEEDED", doc)
            files = {f["name"]: f for f in doc["result"]["output_files"]}
            self.assertEqual(sorted(files), ["a.bin", "b.bin", "c.bin", "note.txt"])
            for name in ("a.bin", "b.bin", "c.bin"):
                self.assertEqual(files[name]["size"], size)
                self.assertEqual(files[name]["sha256"], zeros)
                self.assertTrue(files[name].get("truncated"), files[name])
                self.assertNotIn("content", files[name])
            self.assertEqual(files["note.txt"]["content"], "small\n")
            self.assertEqual(files["note.txt"]["sha256"],
                             hashlib.sha256(b"small\n").hexdigest())
        peak = peak_rss_bytes(self.d.proc.pid)
        print("daemon VmHWM after 4 x 3 x 190 MB outputs: %.1f MB" % (peak / MIB))
        self.assertLess(peak, 100 * MIB)


LOG_MAX = 4096
MARKER = "[execd: log truncated"


class SmallLogDaemon(Daemon):
    """A daemon whose file storage keeps at most LOG_MAX bytes of each log."""

    def write_config(self, port=0):
        path = super().write_config(port)
        with open(path) as f:
            text = f.read()
        text = text.replace('path = "%s/store";' % self.state,
                            'path = "%s/store"; log_max = %d;' % (self.state, LOG_MAX))
        with open(path, "w") as f:
            f.write(text)
        return path


class StoredLogCapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = SmallLogDaemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def stored_log(self, eid):
        status, text = self.d.request("GET", "/v1/executions/%s/logs" % eid)
        self.assertEqual(status, 200, text)
        return text

    def check_truncated(self, doc):
        eid = doc["execution_id"]
        text = self.stored_log(eid)
        self.assertLessEqual(len(text.encode()), LOG_MAX)
        self.assertTrue(text.rstrip("\n").endswith("log_max]"), text[-200:])
        self.assertIn(MARKER, text[-100:])
        self.assertIs(doc.get("logs_truncated"), True, {k: doc[k] for k in doc if k != "result"})

    def test_log_filling_its_cap_in_one_batch_ends_with_a_marker(self):
        """One line longer than the cap reaches storage in one append."""
        status, doc = self.d.submit(sh("head -c 10000 /dev/zero | tr '\\0' x; echo"), wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.check_truncated(doc)

    def test_log_over_its_cap_in_many_lines_ends_with_a_marker(self):
        status, doc = self.d.submit(
            sh("i=0; while [ $i -lt 400 ]; do echo line-$i-0123456789abcdef; i=$((i+1)); done"),
            wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.check_truncated(doc)

    def test_log_under_its_cap_is_whole_and_not_flagged(self):
        status, doc = self.d.submit(sh("echo short"), wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(self.stored_log(doc["execution_id"]), "short\n")
        self.assertNotIn("logs_truncated", doc)


if __name__ == "__main__":
    unittest.main(verbosity=2)

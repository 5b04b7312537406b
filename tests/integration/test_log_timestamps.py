"""Integration tests of log timestamps: GET .../logs?timestamps=true puts
the time execd received each line in front of it (RFC 3339 UTC with
microseconds and a space); without the parameter the log is unchanged."""
import datetime
import os
import re
import subprocess
import unittest

import daemon as daemon_module
from daemon import BUILDDIR, Daemon, EXECCTL

SH = "/bin/sh"
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (.*)$")


def parse_time(text):
    """An RFC 3339 UTC time as execd writes it (Z, ms or µs) -> datetime."""
    return datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


class LogTimestampsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def logs(self, eid, query=""):
        status, text = self.d.request("GET", "/v1/executions/%s/logs%s" % (eid, query))
        self.assertEqual(status, 200, text)
        return text

    def stamped_lines(self, text):
        """[(datetime, line)] of a timestamped log; every line has a time."""
        out = []
        for line in text.splitlines():
            m = STAMP.match(line)
            self.assertIsNotNone(m, "no RFC 3339 time in front of %r" % line)
            out.append((parse_time(m.group(1)), m.group(2)))
        return out

    def test_lines_carry_the_time_they_arrived(self):
        """Two lines 1.1 s apart: each gets its own time, 1 s or more apart,
        within the execution's started/finished window."""
        status, doc = self.d.submit(
            {"container": {"command": [SH, "-c", "echo first; sleep 1.1; echo second"]}},
            wait=60)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        eid = doc["execution_id"]
        plain = self.logs(eid)
        self.assertEqual(plain, "first\nsecond\n")
        for query in ("?timestamps=true", "?timestamps=true&follow=1"):
            text = self.logs(eid, query)
            lines = self.stamped_lines(text)
            self.assertEqual([l for _, l in lines], ["first", "second"], text)
            (t1, _), (t2, _) = lines
            gap = (t2 - t1).total_seconds()
            print("%s: %s (%.6f s apart)" % (query, text.replace("\n", " | "), gap))
            self.assertGreaterEqual(gap, 1.0, text)
            started = parse_time(doc["timestamps"]["started"])
            finished = parse_time(doc["timestamps"]["finished"])
            # The document's times have milliseconds: compare at that precision.
            ms = datetime.timedelta(milliseconds=1)
            self.assertLessEqual(started, t1, (doc["timestamps"], text))
            self.assertLess(t2 - ms, finished, (doc["timestamps"], text))
        # Asking for timestamps changed nothing stored.
        self.assertEqual(self.logs(eid), plain)
        self.assertEqual(self.logs(eid, "?timestamps=false"), plain)

    def test_a_page_from_an_offset_starts_with_a_time(self):
        status, doc = self.d.submit(
            {"container": {"command": [SH, "-c", "echo first; echo second"]}}, wait=60)
        self.assertEqual(status, 201, doc)
        text = self.logs(doc["execution_id"], "?timestamps=1&offset=6")
        self.assertEqual([l for _, l in self.stamped_lines(text)], ["second"])

    @unittest.skipUnless(os.path.exists(EXECCTL), "execctl not built")
    def test_execctl_logs_timestamps(self):
        status, doc = self.d.submit(
            {"container": {"command": [SH, "-c", "echo first; echo second"]}}, wait=60)
        self.assertEqual(status, 201, doc)
        env = dict(os.environ, EXECD_URL=self.d.url, EXECD_TOKEN="token-a")
        for args in (["-t"], ["--timestamps", "-f"]):
            p = subprocess.run([EXECCTL, "logs"] + args + [doc["execution_id"]],
                               capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual([l for _, l in self.stamped_lines(p.stdout)], ["first", "second"])
        p = subprocess.run([EXECCTL, "logs", doc["execution_id"]],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.stdout, "first\nsecond\n")

    def test_bad_flag_is_400(self):
        status, doc = self.d.submit({"container": {"command": [SH, "-c", "echo x"]}}, wait=60)
        self.assertEqual(status, 201, doc)
        status, err = self.d.request(
            "GET", "/v1/executions/%s/logs?timestamps=maybe" % doc["execution_id"])
        self.assertEqual(status, 400, err)
        self.assertEqual(err["error"]["field"], "timestamps", err)


class StorageWithoutTimesDaemon(Daemon):
    """A daemon whose storage (the test plugin storage_good, whose ops table
    is that of ABI 1.3) has no log_marks op."""

    def write_config(self, port=0):
        path = super().write_config(port)
        with open(path) as f:
            text = f.read()
        text = text.replace('storage: { plugin = "file"; path = "%s/store"; };' % self.state,
                            'storage: { plugin = "good"; };')
        with open(path, "w") as f:
            f.write(text)
        return path


@unittest.skipUnless(os.path.isdir(os.path.join(BUILDDIR, "tests", "plugins", ".libs")),
                     "test plugins not built")
class StorageWithoutTimesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        daemon_module.PLUGIN_PATH += ":" + os.path.join(BUILDDIR, "tests", "plugins", ".libs")
        cls.d = StorageWithoutTimesDaemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_timestamps_refused_with_400(self):
        """Not lines without times: a clear 400 naming the parameter."""
        status, err = self.d.request(
            "GET", "/v1/executions/0190a0b0-c0d0-7e00-8f00-000000000001/logs?timestamps=true")
        self.assertEqual(status, 400, err)
        self.assertEqual(err["error"]["code"], "timestamps_unsupported", err)
        self.assertEqual(err["error"]["field"], "timestamps", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Integration tests: what one JSON document may cost the daemon.  Requests
and job outputs nested deeper than daemon.limits.json_depth_max or holding
more values than json_elements_max are refused with an error naming the
limit, and a stored record that cannot be read back (planted here, as an
older execd could have stored it) is set aside instead of stopping lists
and restarts."""
import json
import os
import sys
import time
import unittest
import uuid
import zlib

from daemon import Daemon

DEEP = 2047  # one level more than jansson's parser reads back in a record
sys.setrecursionlimit(20000)  # for Python's json module, should execd answer deep documents


def nested(depth):
    return "[" * depth + "]" * depth


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def journal_record(payload):
    """A put record of the file storage's journal (doc/storage-file.md)."""
    head = bytes([2, 0, 0, 0]) + len(payload).to_bytes(4, "little")
    crc = zlib.crc32(head + payload) & 0xFFFFFFFF
    return b"EXJR" + head + crc.to_bytes(4, "little") + payload


def unreadable_put(eid, tenant, state):
    """A put whose index line is fine but whose record is nested deeper
    than jansson reads (as one older execd stored for a deep request)."""
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    index = json.dumps({"id": eid, "tenant": tenant, "state": state, "labels": {},
                        "timestamps": {"created": created}}, separators=(",", ":"))
    body = ('{"id":"%s","tenant":"%s","state":"%s","backend":"local","attempts":0,'
            '"request":{"input":{"data":%s}}}' % (eid, tenant, state, nested(2100)))
    return journal_record((index + "\n" + body).encode())


def uuid7ish():
    """A time-ordered id of execd's shape (36 characters of 0-9a-f and -)."""
    u = uuid.uuid4().hex
    ms = int(time.time() * 1000)
    return "%08x-%04x-7%s-8%s-%s" % (ms >> 16, ms & 0xFFFF, u[:3], u[3:6], u[6:18])


class DeepDocumentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def assert_serves(self):
        status, page = self.d.request("GET", "/v1/executions?limit=1000")
        self.assertEqual(status, 200, page)
        for doc in page["executions"]:
            status, one = self.d.get(doc["execution_id"])
            self.assertEqual(status, 200, one)
        return page

    def assert_restarts(self):
        self.d.stop()
        self.d.start()
        return self.assert_serves()

    def test_deep_request_is_refused(self):
        raw = ('{"container": {"command": ["/bin/true"]}, "input": {"data": %s}}'
               % nested(DEEP - 1)).encode()  # the record nests it 3 levels down
        status, doc = self.d.request("POST", "/v1/executions?wait=30", raw=raw)
        self.assert_serves()
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "invalid_request", doc)
        self.assertIn("json_depth_max", doc["error"]["message"])
        self.assert_serves()
        # Within the limit is fine.
        ok = {"container": {"command": ["/bin/true"]}, "input": {"data": json.loads(nested(60))}}
        status, doc = self.d.submit(ok, wait=30)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assert_restarts()

    def test_deep_result_json_fails_the_execution_and_it_stays_readable(self):
        script = ('i=0; s=; while [ $i -lt %d ]; do s="[$s]"; i=$((i+1)); done; '
                  'echo "$s" > "$WORKSPACE_OUTPUT/result.json"; echo written' % DEEP)
        status, doc = self.d.submit({"container": {"command": ["/bin/sh", "-c", script]}},
                                    wait=60)
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED"], timeout=60)
        status, doc = self.d.get(eid)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "output_invalid", doc)
        self.assertIn("json_depth_max", doc["error"]["message"])
        self.assertIsNone(doc["result"]["output"])
        page = self.assert_serves()
        self.assertIn(eid, [e["execution_id"] for e in page["executions"]])
        status, logs = self.d.request("GET", "/v1/executions/%s/logs" % eid)
        self.assertEqual(status, 200, logs)
        self.assertIn("written", logs)
        page = self.assert_restarts()
        self.assertIn(eid, [e["execution_id"] for e in page["executions"]])
        status, gone = self.d.request("DELETE", "/v1/executions/" + eid)
        self.assertEqual(status, 200, gone)

    def test_deep_workflow_command_and_envelope_are_refused(self):
        deep = nested(100)
        script = ('echo \'::execd::checkpoint {"token": "t", "data": %s}\'; '
                  'echo \'{"ok": true, "output": %s}\'' % (deep, deep))
        status, doc = self.d.submit({"container": {"command": ["/bin/sh", "-c", script]},
                                     "io": "json"}, wait=60)
        self.assertEqual(status, 201, doc)
        doc = self.d.wait_state(doc["execution_id"], ["SUCCEEDED", "FAILED"], timeout=60)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "invalid_envelope", doc)
        self.assertIn("json_depth_max", doc["error"]["message"])
        self.assertIn("ignored workflow command: argument nests deeper than "
                      "daemon.limits.json_depth_max", self.d.log_text())
        self.assert_serves()


class UnreadableRecordTest(unittest.TestCase):
    """A record in the journal that cannot be read back: execd starts,
    serves and lists, and sets it aside once with one log line."""

    def test_unreadable_records_are_set_aside(self):
        d = Daemon()
        try:
            d.start()
            status, keep = d.submit({"container": {"command": ["/bin/true"]}}, wait=30)
            self.assertEqual(status, 201, keep)
            d.stop()
            queued, done = uuid7ish(), uuid7ish()
            with open(os.path.join(d.state, "store", "journal"), "ab") as f:
                f.write(unreadable_put(queued, "tenant-a", "QUEUED"))
                f.write(unreadable_put(done, "tenant-a", "SUCCEEDED"))
            d.start()  # recovery reads the queued one
            status, page = d.request("GET", "/v1/executions")
            self.assertEqual(status, 200, page)
            ids = [e["execution_id"] for e in page["executions"]]
            self.assertEqual(ids, [keep["execution_id"]])
            for eid in (queued, done):
                status, doc = d.get(eid)
                self.assertEqual(status, 404, doc)
            log = d.log_text()
            for eid in (queued, done):
                lines = [l for l in log.splitlines() if eid in l and "set aside" in l]
                self.assertEqual(len(lines), 1, log)
            qdir = os.path.join(d.state, "store", "quarantine")
            saved = sorted(os.listdir(qdir))
            self.assertEqual(len([n for n in saved if n.endswith(".record")]), 2, saved)
            # Gone for good: the next start neither fails nor repeats it.
            d.stop()
            d.start()
            status, page = d.request("GET", "/v1/executions")
            self.assertEqual(status, 200, page)
            self.assertEqual([e["execution_id"] for e in page["executions"]],
                             [keep["execution_id"]])
            self.assertEqual(d.log_text().count("set aside"), 2)
        finally:
            d.cleanup()


class CostPerRequestTest(unittest.TestCase):
    """A 10 MB body of 5M small integers is refused, and the daemon's peak
    memory stays a small multiple of the body."""

    def test_many_values_are_refused_cheaply(self):
        d = Daemon()
        try:
            d.start()
            before = vm_hwm_kib(d.proc.pid)
            raw = ('{"container": {"command": ["/bin/true"]}, "input": {"data": [%s]}}'
                   % ",".join(["1"] * 5000000)).encode()
            self.assertGreaterEqual(len(raw), 10000000)
            status, doc = d.request("POST", "/v1/executions", raw=raw, timeout=120)
            after = vm_hwm_kib(d.proc.pid)
            print("\nVmHWM before %d KiB, after a %d-byte body of 5M values: %d KiB"
                  % (before, len(raw), after))
            self.assertEqual(status, 413, doc)
            self.assertEqual(doc["error"]["code"], "payload_too_large", doc)
            self.assertIn("json_elements_max", doc["error"]["message"])
            # The body is buffered once; nothing proportional to its values.
            self.assertLess(after - before, 48 << 10,
                            "peak memory grew by %d KiB" % (after - before))
            status, page = d.request("GET", "/v1/executions")
            self.assertEqual(status, 200, page)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

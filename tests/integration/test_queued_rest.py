"""Integration tests: queued executions whose record rests as compact text
until they start (execution_rest in core/execution.c).  Everything a
client sees of a queued execution, and everything it runs with, must be
the same as if the record had stayed in memory: get, list, watch, cancel,
a restart while queued, and the start itself."""
import json
import os
import threading
import unittest

from daemon import Daemon

# One slot: the executions submitted behind a blocker stay queued.
ONE_SLOT = """, { name = "one"; plugin = "local"; max_running = 1;
              commands_allowed = [ "/bin/*", "/usr/bin/*" ]; }"""


def queued_request(i):
    return {
        "backend": "one",
        "correlation_id": "corr-%d" % i,
        "labels": {"batch": "rest", "n": str(i)},
        "priority": i % 3,
        "input": {"data": {"n": i, "text": "é\u00e9 \"quoted\" \\ %d" % i}},
        "container": {"command": ["/bin/sh", "-c",
                                  "cat \"$WORKSPACE_INPUT/input.json\""]},
    }


class QueuedRestTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra_backends=ONE_SLOT).start()

    def tearDown(self):
        self.d.cleanup()

    def submit(self, req):
        status, doc = self.d.request("POST", "/v1/executions", req)
        self.assertEqual(status, 201, doc)
        return doc

    def get(self, eid):
        status, doc = self.d.request("GET", "/v1/executions/" + eid)
        self.assertEqual(status, 200, doc)
        return doc

    def block(self):
        return self.submit({"backend": "one",
                            "container": {"command": ["/bin/sleep", "60"]}})["execution_id"]

    def check_queued(self, eid, i, accepted):
        doc = self.get(eid)
        self.assertEqual(doc["state"], "QUEUED", doc)
        # Exactly what the submit answered, except nothing.
        self.assertEqual(doc, accepted)
        self.assertEqual(doc["correlation_id"], "corr-%d" % i)
        self.assertEqual(doc["labels"], {"batch": "rest", "n": str(i)})
        self.assertEqual(doc["priority"], i % 3)
        self.assertEqual([h["to"] for h in doc["history"]], ["QUEUED"])

    def check_ran(self, eid, i):
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED"], timeout=60)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["correlation_id"], "corr-%d" % i)
        self.assertEqual(doc["labels"], {"batch": "rest", "n": str(i)})
        # The job read the input it was submitted with.
        self.assertEqual(json.loads(doc["result"]["logs"]),
                         {"n": i, "text": "é\u00e9 \"quoted\" \\ %d" % i}, doc["result"]["logs"])
        self.assertEqual([h["to"] for h in doc["history"]],
                         ["QUEUED", "STARTING", "RUNNING", "SUCCEEDED"])

    def test_get_list_cancel_and_run_after_resting(self):
        blocker = self.block()
        self.d.wait_state(blocker, ["RUNNING"])
        accepted = [self.submit(queued_request(i)) for i in range(6)]
        ids = [a["execution_id"] for a in accepted]
        for i, eid in enumerate(ids):
            self.check_queued(eid, i, accepted[i])
        # A list answers queued ones as they are.
        status, page = self.d.request("GET", "/v1/executions?state=QUEUED&label=batch:rest")
        self.assertEqual(status, 200, page)
        self.assertEqual(sorted(e["execution_id"] for e in page["executions"]), sorted(ids))
        for e in page["executions"]:
            self.assertEqual(e, accepted[ids.index(e["execution_id"])])
        # Another tenant sees none of them.
        status, _ = self.d.request("GET", "/v1/executions/" + ids[0], token="token-b")
        self.assertEqual(status, 404)
        # A cancel of a resting execution.
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % ids[1], {})
        self.assertIn(status, (200, 202), doc)
        doc = self.d.wait_state(ids[1], ["CANCELLED"])
        self.assertEqual(doc["error"]["code"], "cancelled", doc)
        self.assertEqual(doc["correlation_id"], "corr-1")
        self.assertEqual([h["to"] for h in doc["history"]], ["QUEUED", "CANCELLED"])
        # A watch of a resting one hears its end.
        events = []
        watcher = threading.Thread(target=self.watch, args=(ids[0], events))
        watcher.start()
        status, _ = self.d.request("POST", "/v1/executions/%s/cancel" % blocker, {})
        self.assertIn(status, (200, 202))
        for i, eid in enumerate(ids):
            if i != 1:
                self.check_ran(eid, i)
        watcher.join(60)
        self.assertFalse(watcher.is_alive())
        self.assertIn("SUCCEEDED", "".join(events))

    def watch(self, eid, events):
        status, text = self.d.request("GET", "/v1/executions/%s/events?follow=1" % eid)
        events.append("%d %s" % (status, text))

    def test_restart_while_queued(self):
        blocker = self.block()
        self.d.wait_state(blocker, ["RUNNING"])
        accepted = [self.submit(queued_request(i)) for i in range(4)]
        ids = [a["execution_id"] for a in accepted]
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        # The blocker was interrupted by the restart and is retried or
        # failed; the queued ones rest again after recovery.
        for i, eid in enumerate(ids):
            doc = self.get(eid)
            if doc["state"] == "QUEUED":
                self.assertEqual(doc, accepted[i])
        self.d.request("POST", "/v1/executions/%s/cancel" % blocker, {})
        for i, eid in enumerate(ids):
            self.check_ran(eid, i)


if __name__ == "__main__":
    unittest.main(verbosity=2)

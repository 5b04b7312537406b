"""Integration tests of the HTTP edges that need the real core behind the
transport: list queries the storage refuses, the cancel answer, ids, and
what clients get while execd drains at shutdown."""
import signal
import socket
import time
import unittest

from daemon import Daemon

SH = "/bin/sh"


def sh(script, **extra):
    req = {"container": {"command": [SH, "-c", script]}}
    req.update(extra)
    return req


class HttpEdgesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def assert_error(self, answer, status, code, field=None):
        got_status, doc = answer
        self.assertEqual(got_status, status, doc)
        self.assertIsInstance(doc, dict, doc)
        self.assertEqual(doc["error"]["code"], code, doc)
        if field is not None:
            self.assertEqual(doc["error"]["field"], field, doc)

    def test_list_query_the_storage_refuses_is_400(self):
        self.assert_error(self.d.request("GET", "/v1/executions?cursor=%21%21garbage%21"),
                          400, "invalid_query", "cursor")
        self.assert_error(self.d.request("GET", "/v1/executions?created_after=yesterday"),
                          400, "invalid_query", "created_after")
        self.assert_error(self.d.request("GET", "/v1/executions?created_before=x"),
                          400, "invalid_query", "created_before")
        status, doc = self.d.request("GET", "/v1/executions?created_after=2024-01-01T00:00:00Z")
        self.assertEqual(status, 200, doc)

    def test_invalid_ids_get_one_code(self):
        # Rejected by the transport (wrong characters) and by the core (the
        # right characters, not a UUID): the same answer.
        self.assert_error(self.d.request("GET", "/v1/executions/not-an-id"),
                          400, "invalid_id", "id")
        self.assert_error(self.d.request("GET", "/v1/executions/" + "-" * 36),
                          400, "invalid_id", "id")

    def test_nul_in_the_id_is_not_ignored(self):
        status, doc = self.d.submit(sh("true"), wait=30)
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        self.assertEqual(self.d.get(eid)[0], 200)
        self.assert_error(self.d.request("GET", "/v1/executions/%s%%00" % eid),
                          400, "invalid_id", "id")

    def test_cancel_answer_shows_the_state_after_the_cancel(self):
        status, doc = self.d.submit(sh("sleep 30"))
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        self.d.wait_state(eid, ["RUNNING"])
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["state"], "CANCELLED", doc)
        self.assertEqual(doc["error"]["code"], "cancelled", doc)


class DrainTest(unittest.TestCase):
    def test_draining_answers_503_with_retry_after(self):
        d = Daemon().start()
        try:
            # A job that runs on for a while keeps the drain going (it ends
            # within the shutdown grace of 2 s).
            status, doc = d.submit(sh("sleep 1.5"))
            self.assertEqual(status, 201, doc)
            d.wait_state(doc["execution_id"], ["RUNNING"])
            d.proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            while "draining" not in d.log_text() and time.time() < deadline:
                time.sleep(0.02)
            self.assertIn("draining", d.log_text())
            with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
                s.sendall(b"POST /v1/executions HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer token-a\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                          b"Connection: close\r\n\r\n{}")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            head = data.split(b"\r\n\r\n")[0].decode()
            self.assertTrue(head.startswith("HTTP/1.1 503"), data)
            self.assertIn("retry-after:", head.lower())
            self.assertIn(b'"shutting_down"', data)
            status, doc = d.request("GET", "/readyz")
            self.assertEqual(status, 503, doc)
            self.assertEqual(d.stop(timeout=20), 0)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

"""Integration tests of tenants against the real daemon: entitlements
(403 not_entitled, also from the second one expires), quotas (429
quota_exceeded for max_running and max_per_day, the day's count kept over a
restart), and a SIGHUP reload of the tokens file that changes them while
work runs."""
import datetime
import os
import signal
import time
import unittest

from daemon import Daemon

SH = "/bin/sh"
AGENTS = """agents = ( { name = "report-daily"; backend = "local"; },
           { name = "report-weekly"; backend = "local"; },
           { name = "summarize"; backend = "local"; },
           { name = "translate"; backend = "local"; } );
"""


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def job(agent=None, command="true"):
    req = {"container": {"command": [SH, "-c", command]}}
    if agent:
        req["agent"] = agent
    return req


class TenantsTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra_config=AGENTS)

    def tearDown(self):
        self.d.cleanup()

    def write_tokens(self, text):
        path = os.path.join(self.d.state, "tokens")
        with open(path + ".new", "w") as f:
            f.write("token-a tenant-a\ntoken-b tenant-b\n" + text)
        os.chmod(path + ".new", 0o600)
        os.rename(path + ".new", path)

    def reload(self):
        before = self.d.log_text().count("reloaded 2 bearer tokens")
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.d.log_text().count("reloaded 2 bearer tokens") == before:
            self.assertLess(time.time(), deadline, self.d.log_text()[-2000:])
            time.sleep(0.05)

    def assert_refused(self, status, doc, http, code, text):
        self.assertEqual(status, http, doc)
        self.assertEqual(doc["error"]["code"], code, doc)
        self.assertIn(text, doc["error"]["message"])
        print("%d %s: %s" % (status, code, doc["error"]["message"]))

    def test_not_entitled_is_403(self):
        self.write_tokens("allow: tenant-a agents=report-*,summarize\n"
                          "allow: tenant-b agents=*\n")
        self.d.start()
        status, doc = self.d.submit(job("report-daily"), wait=30)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        status, doc = self.d.submit(job("translate"))
        self.assert_refused(status, doc, 403, "not_entitled",
                            "tenant tenant-a is not entitled to agent 'translate'")
        self.assertEqual(doc["error"].get("field"), "agent", doc)
        # A request naming no agent is matched as "-": not in tenant-a's globs.
        status, doc = self.d.submit(job())
        self.assert_refused(status, doc, 403, "not_entitled", "requests naming no agent")
        # An agent that does not exist is refused the same way (nothing learnt).
        status, doc = self.d.submit(job("no-such-agent"))
        self.assert_refused(status, doc, 403, "not_entitled", "'no-such-agent'")
        # tenant-b's * covers every agent and requests naming none.
        for agent in ("translate", None):
            status, doc = self.d.submit(job(agent), token="token-b")
            self.assertEqual(status, 201, doc)

    def test_expired_entitlement_is_403_from_that_second(self):
        until = int(time.time()) + 4
        self.write_tokens("allow: tenant-a agents=summarize until=%s\n"
                          "allow: tenant-a agents=report-daily until=2001-01-01T00:00:00Z\n"
                          % rfc3339(until))
        self.d.start()
        status, doc = self.d.submit(job("report-daily"))
        self.assert_refused(status, doc, 403, "not_entitled",
                            "entitlement to agent 'report-daily' ended at 2001-01-01T00:00:00Z")
        self.assertLess(time.time(), until, "the daemon took 4 s to start")
        status, doc = self.d.submit(job("summarize"))
        self.assertEqual(status, 201, doc)
        # From the second it expires: wait for it, then refused.
        while time.time() < until:
            time.sleep(0.02)
        status, doc = self.d.submit(job("summarize"))
        self.assert_refused(status, doc, 403, "not_entitled",
                            "entitlement to agent 'summarize' ended at %s" % rfc3339(until))

    def test_quota_max_running_is_429(self):
        self.write_tokens("tenant: tenant-a max_running=2\n")
        self.d.start()
        ids = []
        for _ in range(2):
            status, doc = self.d.submit(job(command="sleep 30"))
            self.assertEqual(status, 201, doc)
            ids.append(doc["execution_id"])
        status, doc = self.d.submit(job(command="true"))
        self.assert_refused(status, doc, 429, "quota_exceeded",
                            "tenant tenant-a has 2 executions not yet ended")
        # Another tenant is not counted against tenant-a.
        status, doc = self.d.submit(job(), token="token-b")
        self.assertEqual(status, 201, doc)
        # One ends: room for one more.
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % ids[0])
        self.assertEqual(status, 200, doc)
        self.d.wait_state(ids[0], ["CANCELLED"])
        deadline = time.time() + 10
        while True:
            status, doc = self.d.submit(job(command="true"))
            if status == 201 or time.time() > deadline:
                break
            time.sleep(0.05)  # the end is confirmed by storage just after the answer
        self.assertEqual(status, 201, doc)
        self.d.request("POST", "/v1/executions/%s/cancel" % ids[1])

    def test_quota_max_per_day_is_429_and_survives_a_restart(self):
        self.write_tokens("tenant: tenant-b max_per_day=3\n")
        self.d.start()
        for _ in range(3):
            status, doc = self.d.submit(job(), wait=30, token="token-b")
            self.assertEqual(status, 201, doc)
        status, doc = self.d.submit(job(), token="token-b")
        self.assert_refused(status, doc, 429, "quota_exceeded",
                            "tenant tenant-b has had 3 executions accepted today (UTC)")
        # The day's count is read back from storage at start.
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        status, doc = self.d.submit(job(), token="token-b")
        self.assert_refused(status, doc, 429, "quota_exceeded", "has had 3 executions")
        status, doc = self.d.submit(job())
        self.assertEqual(status, 201, doc)

    def test_sighup_reload_keeps_running_work(self):
        self.write_tokens("allow: tenant-a agents=report-daily\n"
                          "tenant: tenant-a max_running=5\n")
        self.d.start()
        status, doc = self.d.submit(job("report-daily", "sleep 2; echo done"))
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        self.d.wait_state(eid, ["RUNNING"])
        # The entitlement goes, a quota tightens: the running job is left alone.
        self.write_tokens("allow: tenant-a agents=summarize\n"
                          "tenant: tenant-a max_running=1\n")
        self.reload()
        status, doc = self.d.submit(job("report-daily"))
        self.assert_refused(status, doc, 403, "not_entitled", "'report-daily'")
        status, doc = self.d.submit(job("summarize"))
        self.assert_refused(status, doc, 429, "quota_exceeded", "max_running")
        doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"])
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        # A broken file is refused with its line; what was loaded stays.
        self.write_tokens("allow: tenant-a agents=summarize until=tomorrow\n")
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "until 'tomorrow' is not an RFC 3339 time" not in self.d.log_text():
            self.assertLess(time.time(), deadline, self.d.log_text()[-2000:])
            time.sleep(0.05)
        self.assertIn("tokens:3: until 'tomorrow'", self.d.log_text())
        status, doc = self.d.submit(job("summarize"), wait=30)
        self.assertEqual(status, 201, doc)


if __name__ == "__main__":
    unittest.main()

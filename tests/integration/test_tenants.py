"""Integration tests of tenants against the real daemon: entitlements
(403 not_entitled, also from the second one expires), quotas (429
quota_exceeded for max_running and max_per_day, the day's count kept over a
restart), a SIGHUP reload of the tokens file that changes them while work
runs, and usage accounting (GET /v1/usage, execctl usage, /metrics)
compared with what known jobs did."""
import datetime
import os
import re
import signal
import subprocess
import time
import unittest

from daemon import Daemon, EXECCTL

SH = "/bin/sh"
PY = "/usr/bin/python3"
MIB = 1024 * 1024
BUSY_CPU_S = 1.5        # the busy loop's CPU time
CPU_TOLERANCE_S = 0.5   # above it: the interpreter's start and exit
ALLOC_BYTES = 256 * MIB  # the allocation, every page written
MEM_TOLERANCE = 64 * MIB  # above it: the interpreter, its libraries
LOG_BYTES = 10000
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
        self.write_tokens("allow: tenant-a agents=report-daily until=2001-01-01T00:00:00Z\n")
        self.d.start()
        status, doc = self.d.submit(job("report-daily"))
        self.assert_refused(status, doc, 403, "not_entitled",
                            "entitlement to agent 'report-daily' ended at 2001-01-01T00:00:00Z")
        # An entitlement ending in a few seconds: accepted before (with a
        # wider margin if the machine was too slow to submit in time) ...
        for margin in (3, 10, 30):
            until = int(time.time()) + margin
            self.write_tokens("allow: tenant-a agents=summarize until=%s\n" % rfc3339(until))
            self.reload()
            status, doc = self.d.submit(job("summarize"))
            if status == 201:
                break
            self.assertGreaterEqual(time.time(), until, doc)
        self.assertEqual(status, 201, doc)
        # ... and refused from the second it ends.
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

    def test_usage_matches_what_the_jobs_did(self):
        self.d.start()
        since = rfc3339(time.time() - 1)
        busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < %s: pass\n" % BUSY_CPU_S
        alloc = ("b = bytearray(%d)\nfor i in range(0, len(b), 4096): b[i] = 1\n" % ALLOC_BYTES)
        chatty = "import sys\nsys.stdout.write('x' * %d + '\\n')\n" % (LOG_BYTES - 1)
        runs = [("summarize", [PY, "-c", busy], "SUCCEEDED"),
                ("translate", [PY, "-c", alloc], "SUCCEEDED"),
                ("report-daily", [PY, "-c", chatty], "SUCCEEDED"),
                ("report-daily", [SH, "-c", "exit 3"], "FAILED")]
        for agent, command, state in runs:
            status, doc = self.d.submit({"agent": agent, "container": {"command": command}},
                                        wait=120)
            self.assertEqual(status, 201, doc)
            self.assertEqual(doc["state"], state, doc)
        # tenant-b ran one job too: tenant-a never sees it.
        status, doc = self.d.submit(job(command="echo b"), wait=60, token="token-b")
        self.assertEqual(doc["state"], "SUCCEEDED", doc)

        def usage(query, token="token-a"):
            status, doc = self.d.request("GET", "/v1/usage" + query, token=token)
            self.assertEqual(status, 200, doc)
            return doc

        doc = usage("?group_by=agent&from=" + since)
        groups = {g["agent"]: g for g in doc["groups"]}
        self.assertEqual(sorted(groups), ["report-daily", "summarize", "translate"], doc)
        for g in doc["groups"]:
            self.assertEqual(g["tenant"], "tenant-a", g)
        cpu = groups["summarize"]["cpu_seconds"]
        peak = groups["translate"]["peak_memory_bytes"]
        out = groups["report-daily"]["output_bytes"]
        print("busy loop of %.1f CPU s: usage says %.3f CPU s, %.3f wall s (tolerance +%.1f s)"
              % (BUSY_CPU_S, cpu, groups["summarize"]["wall_seconds"], CPU_TOLERANCE_S))
        print("allocation of %d MiB: usage says a peak of %.1f MiB (tolerance +%d MiB)"
              % (ALLOC_BYTES // MIB, peak / MIB, MEM_TOLERANCE // MIB))
        print("log of %d bytes: usage says %d output bytes" % (LOG_BYTES, out))
        self.assertGreaterEqual(cpu, BUSY_CPU_S, groups["summarize"])
        self.assertLessEqual(cpu, BUSY_CPU_S + CPU_TOLERANCE_S, groups["summarize"])
        self.assertGreaterEqual(groups["summarize"]["wall_seconds"], BUSY_CPU_S)
        self.assertGreaterEqual(peak, ALLOC_BYTES, groups["translate"])
        self.assertLessEqual(peak, ALLOC_BYTES + MEM_TOLERANCE, groups["translate"])
        self.assertEqual(out, LOG_BYTES, groups["report-daily"])
        self.assertEqual(groups["report-daily"]["executions"], {"SUCCEEDED": 1, "FAILED": 1})
        self.assertEqual(groups["report-daily"]["executions_total"], 2)
        self.assertEqual(groups["summarize"]["unfinished"], 0)

        # By tenant: one group, the sums of the agents'.
        doc = usage("")
        self.assertEqual(len(doc["groups"]), 1, doc)
        total = doc["groups"][0]
        self.assertEqual(total["tenant"], "tenant-a")
        self.assertEqual(total["executions"], {"SUCCEEDED": 3, "FAILED": 1}, total)
        self.assertAlmostEqual(total["cpu_seconds"],
                               sum(g["cpu_seconds"] for g in groups.values()), places=5)
        self.assertEqual(total["peak_memory_bytes"], peak)
        # tenant-b sees its own only.
        doc = usage("", token="token-b")
        self.assertEqual([(g["tenant"], g["executions"]) for g in doc["groups"]],
                         [("tenant-b", {"SUCCEEDED": 1})], doc)
        # A range before the jobs holds nothing; bad parameters are 400.
        doc = usage("?to=" + since)
        self.assertEqual(doc["groups"], [], doc)
        for query, field in (("?from=yesterday", "from"), ("?group_by=backend", "group_by"),
                             ("?from=%s&to=%s" % (since, since), "to")):
            status, err = self.d.request("GET", "/v1/usage" + query)
            self.assertEqual(status, 400, err)
            self.assertEqual(err["error"]["code"], "invalid_query", err)
            self.assertEqual(err["error"]["field"], field, err)

        # execctl usage prints the same figures.
        env = dict(os.environ, EXECD_URL=self.d.url, EXECD_TOKEN="token-a")
        out = subprocess.run([EXECCTL, "usage", "--by", "agent", "--from", since], env=env,
                             capture_output=True, text=True, timeout=30)
        print(out.stdout)
        self.assertEqual(out.returncode, 0, out.stderr)
        line = [l for l in out.stdout.splitlines() if l.startswith("summarize")][0]
        self.assertIn("%.3f" % cpu, line)

        # Prometheus: the counters of what ended since start.
        status, text = self.d.request("GET", "/metrics", token=None)
        self.assertEqual(status, 200)
        m = re.search(r'^execd_tenant_cpu_seconds_total\{tenant="tenant-a",agent="summarize"\} '
                      r'([0-9.]+)$', text, re.M)
        self.assertIsNotNone(m, text)
        self.assertAlmostEqual(float(m.group(1)), cpu, places=3)
        self.assertIn('execd_tenant_executions_total{tenant="tenant-a",agent="report-daily",'
                      'state="FAILED"} 1', text)
        self.assertIn('execd_tenant_peak_memory_bytes{tenant="tenant-a",agent="translate"} %d'
                      % peak, text)

        # Durable: the figures are in the records, read back after a restart.
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        doc = usage("?group_by=agent&from=" + since)
        self.assertEqual({g["agent"]: g["cpu_seconds"] for g in doc["groups"]},
                         {a: g["cpu_seconds"] for a, g in groups.items()})


if __name__ == "__main__":
    unittest.main()

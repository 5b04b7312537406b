"""Integration tests: the real daemon (local backend, file storage, HTTP)
driven over HTTP and through execctl."""
import base64
import json
import os
import subprocess
import time
import unittest

from daemon import Daemon, EXECCTL

SH = "/bin/sh"


def rfc3339(text):
    """Seconds since the epoch of an RFC 3339 UTC timestamp."""
    import datetime
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sh(script, **extra):
    req = {"container": {"command": [SH, "-c", script]}}
    req.update(extra)
    return req


def process_exists(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return out.stdout.strip() != ""


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_success_with_logs_and_result(self):
        status, doc = self.d.submit(sh("echo hello; echo oops >&2; "
                                       "echo '{\"answer\": 42}' > $WORKSPACE_OUTPUT/result.json",
                                       correlation_id="c-1"), wait=30)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertTrue(doc["success"])
        self.assertEqual(doc["correlation_id"], "c-1")
        self.assertEqual(doc["result"]["exit_code"], 0)
        self.assertEqual(doc["result"]["output"], {"answer": 42})
        self.assertIn("hello", doc["result"]["logs"])
        self.assertIn("oops", doc["result"]["logs"])
        self.assertEqual(doc["attempts"], 1)
        status, logs = self.d.request("GET", "/v1/executions/%s/logs" % doc["execution_id"])
        self.assertEqual(status, 200)
        self.assertIn("hello", logs)
        states = [h["to"] for h in doc["history"]]
        self.assertEqual(states, ["QUEUED", "STARTING", "RUNNING", "SUCCEEDED"])

    def test_input_contract(self):
        req = sh("cat $WORKSPACE_INPUT/input.json > $WORKSPACE_OUTPUT/in.json; "
                 "cat $WORKSPACE_INPUT/data/hello.txt > $WORKSPACE_OUTPUT/file.txt; "
                 "cat $WORKSPACE_CONFIG/config.json > $WORKSPACE_OUTPUT/conf.json; "
                 "cat $WORKSPACE_INPUT/graph.json > $WORKSPACE_OUTPUT/doc.json; "
                 "echo \"$EXECUTION_ID $ATTEMPT $CUSTOM $INPUT_DATA\" > $WORKSPACE_OUTPUT/env.txt",
                 input={"data": {"n": 1}, "config": {"p": "v"},
                        "files": [{"path": "data/hello.txt",
                                   "content": base64.b64encode(b"hi\n").decode(),
                                   "encoding": "base64"}],
                        "documents": {"graph": {"nodes": [1]}}},
                 environment={"CUSTOM": "yes"},
                 output={"files": ["*.json", "*.txt"]})
        status, doc = self.d.submit(req, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        files = {f["name"]: f for f in doc["result"]["output_files"]}
        self.assertEqual(sorted(files), ["conf.json", "doc.json", "env.txt", "file.txt", "in.json"])
        self.assertEqual(json.loads(files["in.json"]["content"]), {"n": 1})
        self.assertEqual(files["file.txt"]["content"], "hi\n")
        self.assertEqual(json.loads(files["conf.json"]["content"]), {"p": "v"})
        self.assertEqual(json.loads(files["doc.json"]["content"]), {"nodes": [1]})
        self.assertEqual(files["env.txt"]["content"].split(),
                         [doc["execution_id"], "1", "yes", '{"n":1}'])
        import hashlib
        self.assertEqual(files["file.txt"]["sha256"], hashlib.sha256(b"hi\n").hexdigest())

    def test_non_zero_exit(self):
        status, doc = self.d.submit(sh("exit 3"), wait=30)
        self.assertEqual(doc["state"], "FAILED")
        self.assertEqual(doc["result"]["exit_code"], 3)
        self.assertEqual(doc["error"]["code"], "exit_code")

    def test_retry_until_attempts_exhausted(self):
        status, doc = self.d.submit(sh("echo try $ATTEMPT; exit 1",
                                       retry={"max_attempts": 3, "backoff_ms": 50}), wait=30)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["attempts"], 3)
        self.assertIn("RETRY_WAIT", [h["to"] for h in doc["history"]])

    def test_timeout_kills_the_job(self):
        marker = "execd-timeout-marker-%d" % time.time_ns()
        # The job ignores SIGTERM, so only the SIGKILL after the grace ends it.
        status, doc = self.d.submit(sh("trap '' TERM; sleep 30 # %s" % marker,
                                       resources={"timeout": 1}), wait=30)
        self.assertEqual(doc["state"], "TIMED_OUT", doc)
        self.assertEqual(doc["error"]["code"], "timed_out")
        # The deadline execd promises, from its own record: started ->
        # finished within timeout (1 s) + kill_grace (1 s) + 1 s.
        ran = rfc3339(doc["timestamps"]["finished"]) - rfc3339(doc["timestamps"]["started"])
        self.assertGreaterEqual(ran, 1.0)
        self.assertLess(ran, 1.0 + 1.0 + 1.0)
        self.assertFalse(process_exists(marker))

    def test_cancel_kills_the_process_group(self):
        marker = "execd-cancel-marker-%d" % time.time_ns()
        # A duration of its own, so other tests' sleeps are not mistaken for
        # the background child.
        child = "sleep 60.%06d" % (time.time_ns() % 1000000)
        status, doc = self.d.submit(sh("%s & %s # %s" % (child, child, marker)))
        self.assertEqual(status, 201, doc)
        eid = doc["execution_id"]
        self.d.wait_state(eid, ["RUNNING"])
        time.sleep(0.2)
        self.assertTrue(process_exists(marker))
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 200, doc)
        doc = self.d.wait_state(eid, ["CANCELLED"], timeout=10)
        self.assertEqual(doc["error"]["code"], "cancelled")
        time.sleep(0.2)
        self.assertFalse(process_exists(marker))
        self.assertFalse(process_exists(child))
        status, doc = self.d.request("POST", "/v1/executions/%s/cancel" % eid)
        self.assertEqual(status, 409, doc)

    def test_memory_limit(self):
        # The shell keeps the whole command substitution in memory.
        status, doc = self.d.submit(sh("x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}",
                                       resources={"memory": "64M"}), wait=60)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertIn(doc["error"]["code"], ("oom_killed", "memory_limit"), doc)

    def test_io_json_envelope_ok_and_error(self):
        ok = sh("read line; echo progress >&2; "
                "echo \"{\\\"ok\\\": true, \\\"output\\\": $line}\"",
                io="json", input={"data": {"x": 5}})
        status, doc = self.d.submit(ok, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"]["input"], {"x": 5})
        bad = sh("cat >/dev/null; echo '{\"ok\": false, \"error\": {\"message\": \"nope\", "
                 "\"code\": \"bad_input\", \"details\": {\"f\": 1}}}'", io="json")
        status, doc = self.d.submit(bad, wait=30)
        self.assertEqual(doc["state"], "FAILED")
        self.assertEqual(doc["error"]["code"], "bad_input")
        self.assertEqual(doc["error"]["message"], "nope")
        none = sh("cat >/dev/null; echo not json", io="json")
        status, doc = self.d.submit(none, wait=30)
        self.assertEqual(doc["error"]["code"], "invalid_envelope")

    def test_progress_and_checkpoint(self):
        script = ("echo '::execd::progress {\"percent\": 40, \"message\": \"m\"}'; "
                  "if [ \"$ATTEMPT\" = 1 ]; then "
                  "echo '::execd::checkpoint {\"token\": \"step-2\", \"data\": {\"i\": 7}}'; exit 1; fi; "
                  "cat $WORKSPACE_INPUT/checkpoint.json > $WORKSPACE_OUTPUT/result.json; "
                  "echo $CHECKPOINT_TOKEN")
        status, doc = self.d.submit(sh(script, retry={"max_attempts": 2, "backoff_ms": 10}), wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"], {"i": 7})
        self.assertIn("step-2", doc["result"]["logs"])
        self.assertEqual(doc["progress"]["percent"], 40)
        self.assertNotIn("::execd::", doc["result"]["logs"])

    def test_bad_input_is_refused_and_nothing_created(self):
        before = self.d.request("GET", "/v1/executions?limit=1000")[1]["executions"]
        cases = [
            (sh("true", input={"files": [{"path": "../x", "content": "x"}]}), 400,
             "input.files[0].path"),
            (sh("true", input={"files": [{"path": "/etc/x", "content": "x"}]}), 400,
             "input.files[0].path"),
            ({"container": {"command": "ls"}}, 400, "container.command"),
            (sh("true", unknown=1), 400, "unknown"),
            (sh("true", resources={"memory": "8G"}), 422, "resources.memory"),
            ({"container": {"command": ["/opt/evil"]}}, 403, "container.command"),
        ]
        for req, code, field in cases:
            status, doc = self.d.submit(req)
            self.assertEqual(status, code, (req, doc))
            self.assertEqual(doc["error"]["field"], field, doc)
            self.assertTrue(doc["error"]["message"])
        status, doc = self.d.submit({"container": {"command": ["/opt/evil"]}})
        self.assertEqual(doc["error"]["code"], "command_not_allowed", doc)
        self.assertIn("/opt/evil", doc["error"]["message"])
        status, doc = self.d.request("POST", "/v1/executions", raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("malformed JSON", doc["error"]["message"])
        status, doc = self.d.post_oversized("/v1/executions", 17 << 20)
        self.assertEqual(status, 413, doc)
        self.assertEqual(doc["error"]["code"], "payload_too_large", doc)
        after = self.d.request("GET", "/v1/executions?limit=1000")[1]["executions"]
        self.assertEqual(len(before), len(after))
        work = os.listdir(os.path.join(self.d.state, "work"))
        self.assertFalse([w for w in work if os.path.exists(os.path.join(self.d.state, "work", w, "x"))])

    def test_tenant_isolation(self):
        status, doc = self.d.submit(sh("true"), wait=30, token="token-a")
        eid = doc["execution_id"]
        self.assertEqual(self.d.get(eid, token="token-a")[0], 200)
        status, err = self.d.get(eid, token="token-b")
        self.assertEqual(status, 404, err)
        self.assertEqual(self.d.request("POST", "/v1/executions/%s/cancel" % eid, token="token-b")[0], 404)
        self.assertEqual(self.d.request("DELETE", "/v1/executions/%s" % eid, token="token-b")[0], 404)
        ids_b = [e["execution_id"] for e in
                 self.d.request("GET", "/v1/executions?limit=1000", token="token-b")[1]["executions"]]
        self.assertNotIn(eid, ids_b)
        self.assertEqual(self.d.request("GET", "/v1/executions", token=None)[0], 401)
        self.assertEqual(self.d.request("GET", "/v1/executions", token="wrong")[0], 401)

    def test_list_filters_and_delete(self):
        label = "run-%d" % time.time_ns()
        ids = []
        for i in range(3):
            status, doc = self.d.submit(sh("exit %d" % (i % 2), labels={"batch": label}), wait=30)
            ids.append(doc["execution_id"])
        status, page = self.d.request("GET", "/v1/executions?label=batch:%s&limit=2" % label)
        self.assertEqual(status, 200, page)
        self.assertEqual(len(page["executions"]), 2)
        self.assertTrue(page["next_cursor"])
        status, rest = self.d.request("GET", "/v1/executions?label=batch:%s&limit=2&cursor=%s"
                                      % (label, page["next_cursor"]))
        seen = [e["execution_id"] for e in page["executions"] + rest["executions"]]
        self.assertEqual(sorted(seen), sorted(ids))
        self.assertEqual(seen, sorted(ids, reverse=True))  # newest first
        status, failed = self.d.request("GET", "/v1/executions?state=FAILED&label=batch:%s" % label)
        self.assertEqual([e["execution_id"] for e in failed["executions"]], [ids[1]])
        self.assertEqual(self.d.request("DELETE", "/v1/executions/" + ids[0])[0], 200)
        self.assertEqual(self.d.get(ids[0])[0], 404)
        self.assertEqual(self.d.request("GET", "/v1/executions?state=BOGUS")[0], 400)

    def test_idempotency_key(self):
        key = "idem-%d" % time.time_ns()
        s1, d1 = self.d.submit(sh("true", idempotency_key=key))
        s2, d2 = self.d.submit(sh("true", idempotency_key=key))
        self.assertEqual(d1["execution_id"], d2["execution_id"])
        s3, d3 = self.d.submit(sh("true", idempotency_key=key), token="token-b")
        self.assertNotEqual(d1["execution_id"], d3["execution_id"])

    def test_health_ready_metrics(self):
        self.assertEqual(self.d.request("GET", "/healthz", token=None)[0], 200)
        status, doc = self.d.request("GET", "/readyz", token=None)
        self.assertEqual(status, 200, doc)
        status, text = self.d.request("GET", "/metrics", token=None)
        self.assertEqual(status, 200)
        self.assertIn("execd_executions_finished_total{state=\"SUCCEEDED\"}", text)
        self.assertIn("execd_queue_depth", text)

    def test_log_follow_streams_until_end(self):
        status, doc = self.d.submit(sh("for i in 1 2 3; do echo line$i; sleep 0.2; done"))
        eid = doc["execution_id"]
        status, text = self.d.request("GET", "/v1/executions/%s/logs?follow=1" % eid, timeout=30)
        self.assertEqual(status, 200)
        for i in (1, 2, 3):
            self.assertIn("line%d" % i, text)
        self.assertEqual(self.d.get(eid)[1]["state"], "SUCCEEDED")


@unittest.skipUnless(os.path.exists(EXECCTL), "execctl not built")
class ExecctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.env = dict(os.environ, EXECD_URL=cls.d.url, EXECD_TOKEN="token-a")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_ctl(self, *args, **kw):
        return subprocess.run([EXECCTL] + list(args), capture_output=True, text=True,
                              env=self.env, timeout=60, **kw)

    def test_run_streams_logs_and_exits_with_job_code(self):
        r = self.run_ctl("run", "--", "/bin/echo", "from-execctl")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from-execctl", r.stdout)
        r = self.run_ctl("run", "--", SH, "-c", "exit 4")
        self.assertEqual(r.returncode, 4, r.stderr)

    def test_options_of_every_command(self):
        """Each subcommand's options, its usage errors (exit 2, the message
        on stderr) and --url after the subcommand."""
        usage = [
            (["run", "--nope", "--", "/bin/true"], "execctl: run: unknown option '--nope'"),
            (["run", "--backend"], "execctl: run: option '--backend' needs a value"),
            (["run", "-x"], "execctl: run: unknown option '-x'"),
            (["list", "-l", "a=1", "--label", "b=2"], "execctl: list: --label can be given once"),
            (["list", "extra"], "execctl: list: unexpected argument 'extra'"),
            (["usage", "--by"], "execctl: usage: option '--by' needs a value"),
            (["logs", "--json", "x"],
             "execctl: logs: --json is not an option of logs (the log is text)"),
            (["get", "-f", "x"], "execctl: get: unknown option '-f'"),
            (["health", "-t"], "execctl: health: unknown option '-t'"),
            (["get"], "execctl: get: missing execution id"),
            (["cancel", "a", "b"], "execctl: cancel: unexpected argument 'b' after the execution id"),
            (["agents", "a", "b"], "execctl: agents: unexpected argument 'b' after the agent's name"),
        ]
        for args, message in usage:
            r = self.run_ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr, args)
        for name in ("run", "get", "list", "logs", "cancel", "delete", "health", "usage",
                     "agents"):
            r = self.run_ctl(name, "--help")
            self.assertEqual(r.returncode, 0, (name, r.stderr))
            self.assertIn("Usage: execctl " + name, r.stdout)
        env = dict(self.env, EXECD_URL="http://127.0.0.1:9")
        r = subprocess.run([EXECCTL, "run", "-e", "A=1", "-e", "B=2", "--label", "k=v", "--json",
                            "--url", self.d.url, "--", SH, "-c", 'echo "$A$B"'],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["labels"], {"k": "v"}, doc)
        eid = doc["execution_id"]
        r = subprocess.run([EXECCTL, "logs", "-t", "--url", self.d.url, eid],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^\d{4}-\d\d-\d\dT\S+Z 12\n$")
        for args in (["list", "--json", "-l", "k=v", "--limit", "5"], ["get", "--json", eid],
                     ["usage", "--json", "--by", "agent"], ["health", "--json"],
                     ["agents", "--json"]):
            r = subprocess.run([EXECCTL] + args + ["--url", self.d.url], capture_output=True,
                               text=True, env=env, timeout=60)
            self.assertIn(r.returncode, (0, 1), (args, r.stderr))
            json.loads(r.stdout)

    def test_run_timeout_and_get_list_json(self):
        r = self.run_ctl("run", "--timeout", "1", "--", "/bin/sleep", "20")
        self.assertEqual(r.returncode, 124, r.stdout + r.stderr)
        r = self.run_ctl("run", "--detach", "--", "/bin/echo", "x")
        self.assertEqual(r.returncode, 0, r.stderr)
        eid = r.stdout.strip().split()[-1]
        self.d.wait_state(eid, ["SUCCEEDED"])
        r = self.run_ctl("get", "--json", eid)
        self.assertEqual(json.loads(r.stdout)["state"], "SUCCEEDED")
        r = self.run_ctl("list")
        self.assertIn(eid, r.stdout)
        r = self.run_ctl("get", "00000000-0000-7000-8000-000000000000")
        self.assertEqual(r.returncode, 1)


class RestartTest(unittest.TestCase):
    def test_restart_keeps_history(self):
        d = Daemon().start()
        try:
            status, doc = d.submit(sh("echo persisted"), wait=30)
            eid = doc["execution_id"]
            self.assertEqual(d.stop(), 0)
            d.start()
            status, again = d.get(eid)
            self.assertEqual(status, 200)
            self.assertEqual(again["state"], "SUCCEEDED")
            self.assertEqual(again["result"]["exit_code"], 0)
            self.assertIn("persisted", d.request("GET", "/v1/executions/%s/logs" % eid)[1])
        finally:
            d.cleanup()

    def test_kill9_mid_run_loses_nothing(self):
        d = Daemon().start()
        try:
            acked = []
            for i in range(5):
                status, doc = d.submit(sh("sleep 2; echo done %d" % i,
                                          retry={"max_attempts": 2, "backoff_ms": 10}))
                self.assertEqual(status, 201)
                acked.append(doc["execution_id"])
            for i in range(5):
                status, doc = d.submit(sh("true"))
                acked.append(doc["execution_id"])
            d.wait_state(acked[0], ["RUNNING"])
            d.kill9()
            d.start()
            for eid in acked:
                doc = d.wait_state(eid, ["SUCCEEDED", "FAILED"], timeout=30)
                self.assertNotIn(doc["state"], ("RUNNING", "STARTING"))
            restarted = d.get(acked[0])[1]
            self.assertEqual(restarted["state"], "SUCCEEDED", restarted)
            reasons = [h["reason"] for h in restarted["history"]]
            self.assertTrue(any("daemon_restart" in r for r in reasons), reasons)
            status, running = d.request("GET", "/v1/executions?state=RUNNING")
            self.assertEqual(running["executions"], [])
        finally:
            d.cleanup()


class HarnessTest(unittest.TestCase):
    def test_a_daemon_that_does_not_start_leaves_nothing(self):
        d = Daemon(extra_config="no_such_section = 1;")
        with self.assertRaises(RuntimeError) as raised:
            d.start()
        self.assertIn("exited", str(raised.exception))
        self.assertIsNone(d.proc)
        self.assertFalse(os.path.exists(d.state), d.state)


if __name__ == "__main__":
    unittest.main(verbosity=2)

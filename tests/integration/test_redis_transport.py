"""The redis transport with the real daemon against a private redis-server
(AOF on): XADD in, completion out on the events stream and by SUBSCRIBE;
the pub/sub style; kill -9 of execd between read and XACK; redis-server
killed and started again mid-flow; a poison message dead-lettered;
refusals published and acknowledged with nothing stored; a wrong password
as a start error.  The kill -9 and restart tests print their counts."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon  # noqa: E402
import redis_server  # noqa: E402

SH = "/bin/sh"
SERVER = None

CONFIG = """
daemon: {{ state_dir = "{state}"; max_running = {max_running}; max_queued = {max_queued}; log_level = "debug";
          kill_grace = "1s"; shutdown_grace = "2s"; }};
storage: {{ plugin = "file"; path = "{state}/store"; }};
backends: ( {{ name = "local"; plugin = "local";
              commands_allowed = [ "/bin/*", "/usr/bin/*" ];
              defaults = {{ memory = "1G"; timeout = "2m"; }}; }} );
transports: ( {{ plugin = "http"; listen = "127.0.0.1:{port}"; tokens_file = "{state}/tokens"; }},
              {{ plugin = "redis"; address = "127.0.0.1:{redis_port}"; {redis} }} );
"""


def setUpModule():
    global SERVER
    SERVER = redis_server.Server()


def tearDownModule():
    if SERVER:
        SERVER.stop()


class RedisDaemon(daemon.Daemon):
    """execd with the http and the redis transports."""
    CONFIG_MAX_RUNNING = 8

    def __init__(self, redis_port, redis="", max_queued=1000, state=None):
        super().__init__(state=state)
        self.redis_port = redis_port
        self.redis = redis
        self.max_queued = max_queued
        self.markers = os.path.join(self.state, "markers")
        os.makedirs(self.markers, exist_ok=True)
        os.chmod(self.markers, 0o777)

    def write_config(self, port=0):
        path = os.path.join(self.state, "execd.conf")
        with open(path, "w") as f:
            f.write(CONFIG.format(state=self.state, port=port, redis_port=self.redis_port,
                                  redis=self.redis, max_queued=self.max_queued,
                                  max_running=self.CONFIG_MAX_RUNNING))
        return path

    def marker_request(self, tag, extra=None):
        """A request whose every run appends a line to markers/<tag>."""
        req = {"container": {"command": [SH, "-c", "echo run >> %s/%s" % (self.markers, tag)]},
               "correlation_id": tag}
        req.update(extra or {})
        return req

    def runs(self, tag):
        try:
            with open(os.path.join(self.markers, tag)) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0


def names(prefix):
    """Streams and channels of one test, so that tests do not see each other."""
    return {"requests_stream": prefix + "-req", "requests_channel": prefix + "-pub",
            "events_stream": prefix + "-ev", "events_channel": prefix + "-evch",
            "dead_letter_stream": prefix + "-dead", "group": "execd"}


def redis_keys(n, **more):
    d = dict(n, **more)
    return " ".join('%s = %s;' % (k, json.dumps(v) if isinstance(v, str) else
                                  ("true" if v is True else "false" if v is False else v))
                    for k, v in d.items())


def events(client, stream, since="0"):
    """[(id, event document)] of the events stream after since."""
    out = []
    for entry_id, fields in client.command("XRANGE", stream, "(" + since if since != "0" else "-",
                                           "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        out.append((entry_id, json.loads(f["event"])))
    return out


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def pending(client, n):
    return client.command("XPENDING", n["requests_stream"], n["group"])[0]


class RedisTransportTest(unittest.TestCase):
    def start(self, prefix, **more):
        self.n = names(prefix)
        self.c = SERVER.client()
        self.d = RedisDaemon(SERVER.port, redis_keys(self.n, **more))
        self.addCleanup(self.d.cleanup)
        self.addCleanup(self.c.close)
        self.d.start()
        wait_for(lambda: self.d.request("GET", "/readyz")[0] == 200, what="readyz")
        return self.d

    def completed(self, tags):
        """The execution.completed events of the tags' executions."""
        done = {}
        for _, ev in events(self.c, self.n["events_stream"]):
            if ev["type"] == "execution.completed" and ev["correlation_id"] in tags:
                done[ev["correlation_id"]] = ev
        return done

    def test_xadd_completion_on_stream_and_by_subscribe(self):
        d = self.start("basic")
        sub = SERVER.client()
        self.addCleanup(sub.close)
        sub.subscribe(self.n["events_channel"])
        msg_id = self.c.command("XADD", self.n["requests_stream"], "*", "request",
                                json.dumps(d.marker_request("one")), "token", "token-a")
        wait_for(lambda: self.completed({"one"}), what="completion on the stream")
        evs = [ev for _, ev in events(self.c, self.n["events_stream"])]
        accepted = [ev for ev in evs if ev["type"] == "request.accepted"]
        self.assertEqual(len(accepted), 1)
        self.assertEqual(accepted[0]["message_id"], msg_id)
        eid = accepted[0]["execution_id"]
        types = [ev["type"] for ev in evs if ev.get("execution_id") == eid]
        self.assertIn("execution.state_changed", types)
        self.assertEqual(types[-1], "execution.completed")
        done = self.completed({"one"})["one"]
        self.assertEqual(done["data"]["state"] if "state" in done["data"] else "SUCCEEDED",
                         "SUCCEEDED", done)
        # The same events on the channel.
        seen = []
        while True:
            payload = sub.next_message(10)
            self.assertIsNotNone(payload, "no execution.completed by SUBSCRIBE: %s" % seen)
            ev = json.loads(payload)
            seen.append(ev["type"])
            if ev["type"] == "execution.completed" and ev.get("execution_id") == eid:
                break
        self.assertEqual(d.runs("one"), 1)
        self.assertEqual(pending(self.c, self.n), 0)
        # The record is the token's tenant's.
        status, doc = d.request("GET", "/v1/executions/" + eid, token="token-a")
        self.assertEqual(status, 200, doc)
        self.assertEqual(d.request("GET", "/v1/executions/" + eid, token="token-b")[0], 404)
        # An execution submitted over HTTP emits the same events.
        status, doc = d.submit(d.marker_request("over-http"), token="token-a")
        self.assertEqual(status, 201, doc)
        wait_for(lambda: self.completed({"over-http"}), what="HTTP execution's completion")

    def test_plain_publish_style(self):
        d = self.start("plain")
        wait_for(lambda: self.c.command("PUBSUB", "NUMSUB", self.n["requests_channel"])[1] == 1,
                 what="execd's subscription")
        self.c.command("PUBLISH", self.n["requests_channel"],
                       json.dumps({"request": d.marker_request("p1"), "token": "token-a"}))
        self.c.command("PUBLISH", self.n["requests_channel"],
                       json.dumps({"request": d.marker_request("p2"), "token": "token-b"}))
        wait_for(lambda: len(self.completed({"p1", "p2"})) == 2, what="pub/sub completions")
        self.c.command("PUBLISH", self.n["requests_channel"], "{not json")
        # A bare request has no token: refused while the daemon has tokens.
        self.c.command("PUBLISH", self.n["requests_channel"], json.dumps(d.marker_request("p3")))
        rej = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
            [ev for _, ev in events(self.c, self.n["events_stream"])
             if ev["type"] == "request.rejected"]), what="two refusals")
        self.assertEqual([ev["error"]["code"] for ev in rej], ["invalid_json", "unauthorized"])
        self.assertEqual((d.runs("p1"), d.runs("p2"), d.runs("p3")), (1, 1, 0))

    def test_refusals_are_published_acknowledged_and_not_stored(self):
        d = self.start("refuse")
        s = self.n["requests_stream"]
        ok = json.dumps({"container": {"command": ["/bin/true"]}})
        cases = [
            ("bad token", ["request", ok, "token", "not-a-token"], "unauthorized", "token"),
            ("no token", ["request", ok], "unauthorized", "token"),
            ("invalid JSON", ["request", "{\"container\": "], "invalid_json", "request"),
            ("missing field", ["correlation_id", "x"], "invalid_message", "request"),
            ("10 MB message", ["request", json.dumps({"container": {"command": ["/bin/true"]},
                                                     "labels": {"pad": "x" * (10 << 20)}})],
             "message_too_large", None),
            ("unknown field", ["request", "{}", "colour", "red"], "invalid_message", None),
            ("too deep", ["request", "[" * 200 + "]" * 200], "json_too_deep", "request"),
            ("invalid request", ["request", json.dumps({"container": {"command": "ls"}})],
             "invalid_request", "container.command"),
        ]
        for _, fields, code, _ in cases:
            if code not in ("unauthorized", "invalid_message") and "token" not in fields:
                fields += ["token", "token-a"]
        ids = {}
        for what, fields, _, _ in cases:
            ids[self.c.command("XADD", s, "*", *fields)] = what
        rejected = wait_for(lambda: (lambda r: r if len(r) == len(cases) else None)(
            {ev["message_id"]: ev for _, ev in events(self.c, self.n["events_stream"])
             if ev["type"] == "request.rejected"}), what="every refusal")
        for msg_id, what in ids.items():
            code, field = [(c, f) for w, _, c, f in cases if w == what][0]
            ev = rejected[msg_id]
            self.assertEqual(ev["error"]["code"], code, what)
            if field:
                self.assertEqual(ev["error"]["field"], field, what)
            self.assertTrue(ev["error"]["message"], what)
        wait_for(lambda: pending(self.c, self.n) == 0, what="every refusal acknowledged")
        for token in ("token-a", "token-b"):
            status, doc = d.request("GET", "/v1/executions", token=token)
            self.assertEqual(status, 200)
            self.assertEqual(doc["executions"], [])

    def test_full_queue_holds_the_stream_back(self):
        """max_queued 2, one job at a time: the transport stops reading while
        the queue is full, and no message is refused or lost."""
        n = names("backpressure")
        self.n = n
        self.c = SERVER.client()
        self.addCleanup(self.c.close)
        d = RedisDaemon(SERVER.port, redis_keys(n, read_batch=3), max_queued=2)
        d.CONFIG_MAX_RUNNING = 1
        self.addCleanup(d.cleanup)
        # All in the stream before execd starts, read 3 at a time: the
        # second read finds the queue full.
        tags = ["b%d" % i for i in range(12)]
        for t in tags:
            req = d.marker_request(t)
            req["container"]["command"][2] = "sleep 0.2; " + req["container"]["command"][2]
            self.c.command("XADD", n["requests_stream"], "*", "request", json.dumps(req),
                           "token", "token-a")
        d.start()
        wait_for(lambda: len(self.completed(set(tags))) == len(tags), timeout=60,
                 what="every completion")
        rejected = [ev for _, ev in events(self.c, n["events_stream"])
                    if ev["type"] == "request.rejected"]
        self.assertEqual(rejected, [])
        self.assertEqual([d.runs(t) for t in tags], [1] * len(tags))
        self.assertIn("reading paused", d.log_text())
        wait_for(lambda: pending(self.c, n) == 0, what="every message acknowledged")

    def test_kill9_between_read_and_xack(self):
        """execd's Redis user may not XACK: every message is read and stored
        but stays pending; execd is killed; a second node (another consumer)
        claims them once XACK is allowed.  Each execution ran once."""
        n = names("kill9")
        admin = SERVER.client()
        self.addCleanup(admin.close)
        admin.command("ACL", "SETUSER", "node", "reset", "on", ">node-pw", "~*", "&*", "+@all",
                      "-xack")
        self.addCleanup(admin.command, "ACL", "DELUSER", "node")
        pw_dir = daemon.tempfile.mkdtemp(prefix="execd-it-pw-")
        self.addCleanup(subprocess.run, ["rm", "-rf", pw_dir])
        pw = os.path.join(pw_dir, "pw")
        with open(pw, "w") as f:
            f.write("node-pw\n")
        os.chmod(pw, 0o600)
        keys = redis_keys(n, user="node", password_file=pw)
        a = RedisDaemon(SERVER.port, keys + ' consumer = "node-a";')
        self.addCleanup(a.cleanup)
        a.start()
        count = 20
        tags = ["k%d" % i for i in range(count)]
        for t in tags:
            admin.command("XADD", n["requests_stream"], "*", "request",
                          json.dumps(a.marker_request(t)), "token", "token-a")
        self.c = admin
        self.n = n
        wait_for(lambda: len(self.completed(set(tags))) == count, what="20 completions")
        self.assertEqual(pending(admin, n), count)  # stored and run, never acknowledged
        a.kill9()
        admin.command("ACL", "SETUSER", "node", "+xack")
        # node-b: another consumer on the same storage, claiming what has
        # been idle for a second.
        b = RedisDaemon(SERVER.port, keys + ' consumer = "node-b"; claim_idle = "1s";',
                        state=a.state)
        self.addCleanup(b.stop)
        b.log_path = os.path.join(a.state, "execd-b.log")
        b.start()
        wait_for(lambda: pending(admin, n) == 0, timeout=30, what="the claim and XACK")
        runs = [a.runs(t) for t in tags]
        replays = [ev for _, ev in events(admin, n["events_stream"])
                   if ev["type"] == "request.accepted" and ev["replay"]]
        print("\nkill -9 between read and XACK: sent %d, acknowledged %d, run once %d, lost %d, "
              "duplicated %d (replays found by the claim: %d)"
              % (count, count - pending(admin, n), runs.count(1), runs.count(0),
                 sum(1 for r in runs if r > 1), len(replays)), file=sys.stderr)
        self.assertEqual(runs, [1] * count)
        self.assertEqual(len(replays), count)
        self.assertIn("claimed", b.log_text())

    def test_redis_restart_mid_flow(self):
        d = self.start("restart")
        s = self.n["requests_stream"]
        total = 60
        sent = []
        unknown = []
        lock = threading.Lock()

        def sender():
            client = None
            for i in range(total):
                tag = "r%d" % i
                # The request's own idempotency key: a resend after an XADD
                # whose answer was lost is the same execution.
                req = d.marker_request(tag, {"idempotency_key": tag})
                while True:
                    try:
                        if client is None:
                            client = SERVER.client(timeout=2)
                        client.command("XADD", s, "*", "request", json.dumps(req),
                                       "token", "token-a")
                        with lock:
                            sent.append(tag)
                        break
                    except (OSError, ConnectionError, redis_server.RedisError):
                        with lock:
                            unknown.append(tag)
                        if client:
                            client.close()
                        client = None
                        time.sleep(0.1)
                time.sleep(0.02)
            if client:
                client.close()

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        wait_for(lambda: len(sent) >= 20, what="20 sent")
        SERVER.kill()
        # HTTP keeps serving while redis is away; /readyz names the transport.
        status, doc = d.request("GET", "/healthz")
        self.assertEqual(status, 200)
        status, doc = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
            d.request("GET", "/readyz")), what="readyz to name redis")
        self.assertIn("redis", json.dumps(doc))
        status, doc = d.submit(d.marker_request("http-while-away"), wait=30)
        self.assertEqual(status, 201, doc)
        self.assertEqual(d.runs("http-while-away"), 1)
        time.sleep(0.5)
        SERVER.restart()
        th.join(120)
        wait_for(lambda: self.c_reconnect(), what="a client connection")
        try:
            wait_for(lambda: len(self.completed(set(sent))) == len(set(sent)), timeout=60,
                     what="every sent message's completion")
        except AssertionError:
            missing = sorted(set(sent) - set(self.completed(set(sent))))
            print("missing completions:", missing, "runs:", [d.runs(t) for t in missing],
                  "pending:", pending(self.c, self.n), file=sys.stderr)
            print("\n".join(l for l in d.log_text().splitlines() if "redis" in l and "debug" not in l)[-5000:], file=sys.stderr)
            raise
        wait_for(lambda: pending(self.c, self.n) == 0, what="every message acknowledged")
        runs = [d.runs(t) for t in sorted(set(sent))]
        print("\nredis-server killed and restarted: sent %d (resent after a lost answer: %d), "
              "acknowledged %d, run once %d, lost %d, duplicated %d"
              % (len(set(sent)), len(unknown), len(set(sent)) - pending(self.c, self.n),
                 runs.count(1), runs.count(0), sum(1 for r in runs if r > 1)), file=sys.stderr)
        self.assertEqual(len(set(sent)), total)
        self.assertEqual(runs, [1] * total)

    def c_reconnect(self):
        try:
            self.c.close()
            self.c = SERVER.client()
            self.addCleanup(self.c.close)
            return True
        except OSError:
            return False

    def test_poison_message_is_dead_lettered(self):
        n = names("poison")
        c = SERVER.client()
        self.addCleanup(c.close)
        # A consumer that died three times on the message: delivered, then
        # claimed (each claim a delivery) by "ghost" before execd starts.
        c.command("XGROUP", "CREATE", n["requests_stream"], n["group"], "0", "MKSTREAM")
        msg_id = c.command("XADD", n["requests_stream"], "*", "request",
                           json.dumps({"container": {"command": ["/bin/true"]}}), "token",
                           "token-a")
        c.command("XREADGROUP", "GROUP", n["group"], "ghost", "COUNT", "1", "STREAMS",
                  n["requests_stream"], ">")
        c.command("XCLAIM", n["requests_stream"], n["group"], "ghost", "0", msg_id)
        c.command("XCLAIM", n["requests_stream"], n["group"], "ghost", "0", msg_id)
        self.assertEqual(c.command("XPENDING", n["requests_stream"], n["group"], "-", "+",
                                   "1")[0][3], 3)
        d = RedisDaemon(SERVER.port, redis_keys(n, max_deliveries=3, claim_idle="1s"))
        self.addCleanup(d.cleanup)
        d.start()
        dead = wait_for(lambda: c.command("XRANGE", n["dead_letter_stream"], "-", "+"),
                        what="the dead letter")
        f = dict(zip(dead[0][1][::2], dead[0][1][1::2]))
        self.assertEqual(f["dead_message_id"], msg_id)
        self.assertIn("delivered 3 times", f["dead_reason"])
        self.assertIn("/bin/true", f["request"])
        wait_for(lambda: c.command("XPENDING", n["requests_stream"], n["group"])[0] == 0,
                 what="the dead letter acknowledged")
        rej = [ev for _, ev in events(c, n["events_stream"]) if ev["type"] == "request.rejected"]
        self.assertEqual([ev["error"]["code"] for ev in rej], ["max_deliveries"])
        status, doc = d.request("GET", "/v1/executions", token="token-a")
        self.assertEqual(doc["executions"], [])

    def test_wrong_password_is_a_start_error(self):
        locked = redis_server.Server(password="right-one")
        self.addCleanup(locked.stop)
        d = RedisDaemon(locked.port, "")
        self.addCleanup(d.cleanup)
        pw = os.path.join(d.state, "redis-pw")
        with open(pw, "w") as f:
            f.write("wrong-one\n")
        os.chmod(pw, 0o600)
        d.redis = 'password_file = "%s";' % pw
        conf = d.write_config()
        env = dict(os.environ, EXECD_PLUGIN_PATH=daemon.PLUGIN_PATH)
        p = subprocess.run([daemon.EXECD, "-c", conf], env=env, capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, r"AUTH refused: WRONGPASS")
        self.assertIn("127.0.0.1:%d" % locked.port, p.stderr)
        # The right one starts.
        with open(pw, "w") as f:
            f.write("right-one\n")
        d.start()
        wait_for(lambda: d.request("GET", "/readyz")[0] == 200, what="readyz")


if __name__ == "__main__":
    if not redis_server.available():
        print("SKIP: redis-server is not installed (apt-get install redis-server)")
        sys.exit(77)
    unittest.main()

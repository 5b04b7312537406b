"""The catalog of agents against a real daemon: agent files in
daemon.agents_dir (JSON and libconfig) next to an inline agent; GET
/v1/agents and /v1/agents/{name}, execctl agents; a request naming an agent
may only tighten it (4xx naming the field); SIGHUP reloads the catalog
(a file added, changed, removed), keeps the running one when a file is
broken (the error naming the file), and an execution accepted before a
change runs with the agent it was accepted with."""
import json
import os
import signal
import subprocess
import time
import unittest

from daemon import EXECCTL, Daemon

PORT = 17101  # the catalog tests' private range: 17100-17199

INLINE = 'agents = ( { name = "inline-echo"; backend = "local"; command = ["/bin/echo", "inline"]; } );\n'

LIMITED_CONF = """name = "limited";
description = "Prints its environment's MODE";
version = "2.1";
backend = "local";
command = ["/bin/sh", "-c", "echo mode=$MODE"];
io = "raw";
environment = { MODE = "careful"; };
resources = { timeout = "30s"; memory = "256M"; };
"""


def slow_agent(version, gate):
    """An agent whose job waits for the gate file, then writes {"v": version}
    as its output; its schema_out accepts only that version."""
    script = ('while [ ! -e %s ]; do sleep 0.05; done; printf \'{"v": %d}\' > "$WORKSPACE_OUTPUT/result.json"'
              % (gate, version))
    return {"name": "slow", "description": "waits for a gate", "version": str(version),
            "backend": "local", "command": ["/bin/sh", "-c", script],
            "resources": {"timeout": "1m"}, "defaults": {"timeout": "1s"},
            "schema_in": {"type": "object"},
            "schema_out": {"type": "object", "required": ["v"], "properties": {"v": {"const": version}}}}


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_config=INLINE, daemon_extra='agents_dir = "agents.d";')
        cls.dir = os.path.join(cls.d.state, "agents.d")
        os.mkdir(cls.dir)
        cls.gates = os.path.join(cls.d.state, "gates")
        os.mkdir(cls.gates)
        os.chmod(cls.gates, 0o755)
        cls.write("slow.json", json.dumps(slow_agent(1, os.path.join(cls.gates, "one")), indent=2))
        cls.write("limited.conf", LIMITED_CONF)
        cls.d.start(port=PORT)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    @classmethod
    def write(cls, name, text):
        with open(os.path.join(cls.dir, name + ".tmp"), "w") as f:
            f.write(text)
        os.rename(os.path.join(cls.dir, name + ".tmp"), os.path.join(cls.dir, name))

    def reload(self):
        """SIGHUP, then wait until the daemon logged the end of that reload."""
        done = ("agents and plugin settings that can change live",
                "reload: keeping the running configuration and agents")
        before = sum(self.d.log_text().count(m) for m in done)
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline:
            if sum(self.d.log_text().count(m) for m in done) > before:
                return
            time.sleep(0.05)
        raise AssertionError("no end of the reload in the log:\n" + self.d.log_text()[-3000:])

    def agents(self):
        status, doc = self.d.request("GET", "/v1/agents")
        self.assertEqual(status, 200, doc)
        return {a["name"]: a for a in doc["agents"]}

    def execctl(self, *args):
        env = dict(os.environ, EXECD_TOKEN="token-a")
        return subprocess.run([EXECCTL, "--url", self.d.url] + list(args), env=env,
                              capture_output=True, text=True, timeout=30)

    def test_1_listing(self):
        agents = self.agents()
        self.assertEqual(sorted(agents), ["inline-echo", "limited", "slow"])
        self.assertEqual(agents["inline-echo"]["source"], "inline")
        self.assertNotIn("file", agents["inline-echo"])
        self.assertEqual(agents["slow"]["source"], "file")
        self.assertEqual(agents["slow"]["file"], "slow.json")
        self.assertEqual(agents["slow"]["version"], "1")
        self.assertEqual(agents["slow"]["schema_out"]["properties"]["v"], {"const": 1})
        self.assertEqual(agents["slow"]["defaults"], {"timeout_ms": 1000})
        self.assertEqual(agents["slow"]["resources"]["timeout_ms"], 60000)
        self.assertEqual(agents["limited"]["file"], "limited.conf")
        self.assertEqual(agents["limited"]["description"], "Prints its environment's MODE")
        self.assertEqual(agents["limited"]["resources"]["timeout_ms"], 30000)
        status, one = self.d.request("GET", "/v1/agents/limited")
        self.assertEqual(status, 200, one)
        self.assertEqual(one["version"], "2.1")
        status, doc = self.d.request("GET", "/v1/agents/nope")
        self.assertEqual(status, 404, doc)
        self.assertEqual(doc["error"]["code"], "unknown_agent")
        status, doc = self.d.request("GET", "/v1/agents/..%2Fx")
        self.assertEqual(status, 404, doc)
        status, doc = self.d.request("GET", "/v1/agents", token=None)
        self.assertEqual(status, 401, doc)

    def test_2_execctl_agents(self):
        p = self.execctl("agents")
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("NAME"), p.stdout)
        self.assertTrue(any(l.split()[:3] == ["limited", "2.1", "file"] for l in lines), p.stdout)
        self.assertTrue(any(l.split()[:3] == ["inline-echo", "-", "inline"] for l in lines), p.stdout)
        p = self.execctl("agents", "slow")
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("source:       file slow.json", p.stdout)
        self.assertIn("schema_out:", p.stdout)
        self.assertIn('"const": 1', p.stdout)
        p = self.execctl("agents", "--json", "limited")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["name"], "limited")
        p = self.execctl("agents", "nope")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("unknown_agent", p.stderr)
        p = self.execctl("agents", "../x")
        self.assertEqual(p.returncode, 2, p.stdout)

    def test_3_requests_only_tighten(self):
        refused = [
            ({"resources": {"timeout": "10m"}}, "resources.timeout"),
            ({"resources": {"memory": "1G"}}, "resources.memory"),
            ({"container": {"command": ["/bin/echo", "other"]}}, "container.command"),
            ({"io": "json"}, "io"),
            ({"environment": {"MODE": "reckless"}}, "environment.MODE"),
            ({"backend": "other"}, "backend"),
        ]
        for extra, field in refused:
            status, doc = self.d.submit(dict({"agent": "limited"}, **extra))
            self.assertIn(status, (400, 422), (extra, doc))
            self.assertEqual(doc["error"]["field"], field, doc)
            print("refused:", json.dumps(extra), "->", status, doc["error"]["code"], field)
        status, doc = self.d.submit({"agent": "limited", "resources": {"timeout": "5s"},
                                     "environment": {"MODE": "careful", "EXTRA": "1"},
                                     "output": {"logs": True}}, wait=30)
        self.assertIn(status, (200, 201), doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertIn("mode=careful", doc["result"]["logs"])
        # The agent's default timeout (1s, under its 1m ceiling) applies to a
        # request that asks for none: the job waits for a gate that never opens.
        status, doc = self.d.submit({"agent": "slow", "input": {"data": {}}}, wait=30)
        self.assertEqual(doc["state"], "TIMED_OUT", doc)
        status, doc = self.d.submit({"agent": "slow", "input": {"data": {}},
                                     "resources": {"timeout": "2m"}})
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["error"]["field"], "resources.timeout", doc)
        status, doc = self.d.submit({"agent": "nope"})
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "unknown_agent")

    def test_4_reload_add_change_remove(self):
        # Accepted with version 1, running when the file changes to version 2.
        # Above the agent's default, within its ceiling.
        status, first = self.d.submit({"agent": "slow", "input": {"data": {}},
                                       "resources": {"timeout": "30s"}})
        self.assertIn(status, (200, 201), first)
        self.d.wait_state(first["execution_id"], ("RUNNING",))
        self.write("slow.json", json.dumps(slow_agent(2, os.path.join(self.gates, "two"))))
        self.write("added.json", json.dumps({"name": "added", "backend": "local",
                                             "command": ["/bin/echo", "added"]}))
        self.reload()
        agents = self.agents()
        self.assertEqual(agents["slow"]["version"], "2")
        self.assertIn("added", agents)
        status, doc = self.d.submit({"agent": "added"}, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        # The running one ends with version 1's command and schema_out.
        open(os.path.join(self.gates, "one"), "w").close()
        doc = self.d.wait_state(first["execution_id"], ("SUCCEEDED", "FAILED"))
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"], {"v": 1})
        # A new one runs version 2.
        open(os.path.join(self.gates, "two"), "w").close()
        status, doc = self.d.submit({"agent": "slow", "input": {"data": {}},
                                     "resources": {"timeout": "30s"}}, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"], {"v": 2})
        os.unlink(os.path.join(self.dir, "added.json"))
        self.reload()
        self.assertNotIn("added", self.agents())
        status, doc = self.d.submit({"agent": "added"})
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "unknown_agent")

    def test_5_broken_catalog_keeps_the_old(self):
        before = self.agents()
        self.write("broken.json", '{"name": "broken",\n "command": ["/bin/true"\n}\n')
        self.write("twin.conf", 'name = "inline-echo";\n')
        self.write("bad-schema.json", json.dumps({"name": "bad-schema", "schema_in": {"type": 5}}))
        self.write("added.json", json.dumps({"name": "added", "backend": "local",
                                             "command": ["/bin/echo", "added"]}))
        self.reload()
        log = self.d.log_text()
        self.assertIn(os.path.join(self.dir, "broken.json") + ":3: not valid JSON", log)
        self.assertIn(os.path.join(self.dir, "twin.conf") +
                      ": duplicate agent name 'inline-echo': defined inline in the config file"
                      " and in twin.conf", log)
        self.assertIn(os.path.join(self.dir, "bad-schema.json") +
                      ": schema_in: agent 'bad-schema': not a valid JSON Schema", log)
        self.assertIn("reload: keeping the running configuration and agents", log)
        self.assertEqual(self.agents(), before)
        status, doc = self.d.submit({"agent": "added"})
        self.assertEqual(status, 400, doc)
        # Fixed: the next SIGHUP loads it.
        for name in ("broken.json", "twin.conf", "bad-schema.json"):
            os.unlink(os.path.join(self.dir, name))
        self.reload()
        self.assertIn("added", self.agents())
        for line in self.d.log_text().splitlines():
            if "reload" in line:
                print(line)


if __name__ == "__main__":
    unittest.main()

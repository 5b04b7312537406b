"""Integration tests of what a job may reach on the local backend: the
request's environment cannot change what the allowed program loads, the
shipped configuration allows no program that runs its arguments, jobs run
as a non-root identity, and two tenants' jobs running at once cannot read or
write each other's workspaces."""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from daemon import Daemon

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED_CONFIG = os.path.join(HERE, "..", "..", "etc", "execd.conf")
# Programs the tests' jobs need, added to the shipped allow-list.
TEST_COMMANDS = ["/bin/sh", "/usr/bin/id"]


class ShippedConfigDaemon(Daemon):
    """A daemon started from etc/execd.conf as shipped, with only its paths,
    its listening port and tokens file, and the test's commands changed."""

    def write_config(self, port=0):
        with open(SHIPPED_CONFIG) as f:
            text = f.read()
        text = text.replace("/var/lib/execd", self.state)
        text = re.sub(r'/\*\s*tokens_file[^*]*\*/', "", text)
        text = re.sub(r'listen\s*=\s*"[^"]*";',
                      'listen = "127.0.0.1:%d"; tokens_file = "%s/tokens";'
                      % (port, self.state), text)
        text = text.replace("commands_allowed = [",
                            "commands_allowed = [ %s," % ", ".join('"%s"' % c for c in TEST_COMMANDS))
        path = os.path.join(self.state, "execd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path


class ConfigDaemon(Daemon):
    """A daemon with the test daemon's config but another allow-list."""

    def __init__(self, commands):
        super().__init__()
        self.commands = commands

    def write_config(self, port=0):
        path = super().write_config(port)
        with open(path) as f:
            text = f.read()
        text = re.sub(r"commands_allowed = \[[^\]]*\]",
                      "commands_allowed = [ %s ]" % ", ".join('"%s"' % c for c in self.commands),
                      text)
        with open(path, "w") as f:
            f.write(text)
        return path


def make_state_dir():
    """A state directory other users can traverse (but not list), as the
    packaged /var/lib/execd is: jobs run under their own uids."""
    state = tempfile.mkdtemp(prefix="execd-id-")
    os.chmod(state, 0o711)
    return state


def shipped_allow_list():
    with open(SHIPPED_CONFIG) as f:
        text = f.read()
    text = re.sub(r"#[^\n]*", "", text)
    return [re.findall(r'"([^"]*)"', m) for m in re.findall(r"commands_allowed\s*=\s*\[([^\]]*)\]", text)]


class ShippedConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = ShippedConfigDaemon(state=make_state_dir())
        with open(os.path.join(cls.d.state, "tokens"), "w") as f:
            f.write("token-a tenant-a\ntoken-b tenant-b\n")
        os.chmod(os.path.join(cls.d.state, "tokens"), 0o600)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_ld_preload_is_refused_and_nothing_runs(self):
        build = tempfile.mkdtemp(dir=self.d.state)
        marker = os.path.join(self.d.state, "preload-ran")
        src = os.path.join(build, "evil.c")
        with open(src, "w") as f:
            f.write('#include <fcntl.h>\n#include <unistd.h>\n'
                    '__attribute__((constructor)) static void evil(void) {\n'
                    '  int fd = open("%s", O_WRONLY | O_CREAT, 0644);\n'
                    '  if (fd >= 0) close(fd);\n}\n' % marker)
        lib = os.path.join(build, "evil.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src], check=True)
        with open(lib, "rb") as f:
            so = base64.b64encode(f.read()).decode()
        shutil.rmtree(build)
        status, doc = self.d.submit({
            "container": {"command": ["/bin/echo", "hello"]},
            "input": {"files": [{"path": "evil.so", "content": so, "encoding": "base64"}]},
            "environment": {"LD_PRELOAD": "input/evil.so"}}, wait=30)
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["field"], "environment.LD_PRELOAD", doc)
        self.assertIn("LD_PRELOAD", doc["error"]["message"], doc)
        self.assertFalse(os.path.exists(marker), "the preloaded library ran")

    def test_shipped_allow_list_has_no_program_that_runs_its_arguments(self):
        lists = shipped_allow_list()
        self.assertTrue(lists and all(lists))
        status, doc = self.d.submit({"container": {"command": ["/usr/bin/env", "/bin/sh", "-c", "id -u"]}},
                                    wait=30)
        self.assertEqual(status, 403, doc)
        # The daemon judged every shipped entry (the test's own /bin/sh is
        # warned about, which shows the check ran).
        warned = [l for l in self.d.log_text().splitlines() if "runs its arguments" in l]
        self.assertTrue(any('"/bin/sh"' in l for l in warned), warned)
        for entries in lists:
            for entry in entries:
                self.assertFalse([l for l in warned if '"%s"' % entry in l], entry)

    def test_jobs_run_as_a_non_root_uid(self):
        status, doc = self.d.submit({"container": {"command": ["/usr/bin/id", "-u"]},
                                     "output": {"logs": True}}, wait=30)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertNotEqual(doc["result"]["logs"].strip(), "0", doc)

    def test_two_tenants_cannot_reach_each_others_workspace(self):
        flags = os.path.join(self.d.state, "flags")
        os.mkdir(flags)
        os.chmod(flags, 0o1777)
        # A writes its result, then holds its workspace until B is done
        # (bounded, so that a broken test cannot hang).
        status, a = self.d.submit({
            "container": {"command": ["/bin/sh", "-c",
                                      'echo \'{"tenant": "a"}\' > $WORKSPACE_OUTPUT/result.json; '
                                      ': > $FLAGS/a-ready; i=0; '
                                      'while [ ! -e $FLAGS/b-done ] && [ $i -lt 1200 ]; do '
                                      'sleep 0.05; i=$((i+1)); done']},
            "input": {"data": {"secret": "a-secret"}},
            "environment": {"FLAGS": flags}}, token="token-a")
        self.assertEqual(status, 201, a)
        a_id = a["execution_id"]
        ready = os.path.join(flags, "a-ready")
        self.d.wait_state(a_id, ["RUNNING"], token="token-a")
        for _ in range(1200):
            if os.path.exists(ready):
                break
            subprocess.run(["sleep", "0.05"])
        self.assertTrue(os.path.exists(ready), "job A did not start")
        target = os.path.join(self.d.state, "work", a_id + "-1")
        status, b = self.d.submit({
            "container": {"command": ["/bin/sh", "-c",
                                      'cat $TARGET/input/input.json; echo "read=$?"; '
                                      'ls $TARGET/output; echo "list=$?"; '
                                      'echo \'{"tenant": "b"}\' > $TARGET/output/result.json; '
                                      'echo "write=$?"']},
            "environment": {"TARGET": target},
            "output": {"logs": True}}, token="token-b", wait=30)
        open(os.path.join(flags, "b-done"), "w").close()
        self.assertEqual(status, 201, b)
        logs = b["result"]["logs"]
        self.assertNotIn("a-secret", logs)
        self.assertIn("read=1", logs)
        self.assertIn("list=2", logs)
        self.assertIn("write=2", logs)
        self.assertIn("Permission denied", logs)
        a = self.d.wait_state(a_id, ["SUCCEEDED", "FAILED"], timeout=90, token="token-a")
        self.assertEqual(a["state"], "SUCCEEDED", a)
        self.assertEqual(a["result"]["output"], {"tenant": "a"}, a)

    def test_jobs_running_at_once_have_network_namespaces_of_their_own(self):
        # Per job (network "none", the shipped default), whether made ahead
        # or by the job's start: not the host's, not another job's, only
        # loopback.  Each job holds on until the others wrote theirs, so all
        # are alive at once (bounded, so that a broken test cannot hang).
        flags = os.path.join(self.d.state, "netns-flags")
        os.mkdir(flags)
        os.chmod(flags, 0o1777)
        names = ["j%d" % i for i in range(4)]
        ids = []
        for name in names:
            others = " ".join("$FLAGS/%s" % n for n in names if n != name)
            status, doc = self.d.submit({
                "container": {"command": ["/bin/sh", "-c",
                                          'readlink /proc/self/ns/net > $FLAGS/%s.tmp; '
                                          'mv $FLAGS/%s.tmp $FLAGS/%s; '
                                          'sed -n "3,\\$p" /proc/net/dev | cut -d: -f1; i=0; '
                                          'for f in %s; do while [ ! -e $f ] && [ $i -lt 1200 ]; '
                                          'do sleep 0.05; i=$((i+1)); done; done'
                                          % (name, name, name, others)]},
                "environment": {"FLAGS": flags},
                "output": {"logs": True}})
            self.assertEqual(status, 201, doc)
            ids.append(doc["execution_id"])
        seen = {}
        host = os.readlink("/proc/self/ns/net")
        for name, eid in zip(names, ids):
            doc = self.d.wait_state(eid, ["SUCCEEDED", "FAILED"], timeout=90)
            self.assertEqual(doc["state"], "SUCCEEDED", doc)
            self.assertEqual(doc["result"]["logs"].split(), ["lo"], doc)
            with open(os.path.join(flags, name)) as f:
                ns = f.read().strip()
            self.assertRegex(ns, r"^net:\[\d+\]$")
            self.assertNotEqual(ns, host, "job %s ran in the host's namespace" % name)
            self.assertNotIn(ns, seen, "jobs %s and %s shared a namespace" % (seen.get(ns), name))
            seen[ns] = name


class RunnerWarningTest(unittest.TestCase):
    def test_allow_list_with_env_is_warned_about(self):
        d = ConfigDaemon(["/bin/echo", "/usr/bin/env"])
        try:
            d.start()
            lines = [l for l in d.log_text().splitlines() if "/usr/bin/env" in l]
            self.assertTrue(any("runs its arguments" in l for l in lines), d.log_text())
            self.assertFalse(any("runs its arguments" in l and "/bin/echo" in l
                                 for l in d.log_text().splitlines()))
        finally:
            d.cleanup()


class PrivateStateDirTest(unittest.TestCase):
    def test_jobs_reach_their_workspace_in_a_0700_state_dir(self):
        # A state_dir made by mktemp -d (or an older install) is 0700: execd
        # makes it searchable, or no job under its own uid could enter its
        # workspace below it.
        d = Daemon()
        try:
            os.chmod(d.state, 0o700)
            d.start()
            status, doc = d.submit({"container": {"command": ["/bin/echo", "in"]},
                                    "output": {"logs": True}}, wait=30)
            self.assertEqual(doc["state"], "SUCCEEDED", doc)
            self.assertEqual(doc["result"]["logs"], "in\n", doc)
            self.assertEqual(os.stat(d.state).st_mode & 0o777, 0o711)
            self.assertIn("made searchable", d.log_text())
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

"""execd --check-config checks values, not only types: each plugin's own
check (ABI 1.3 check_config) runs, every error is printed with the config
file's line, and nothing is created."""
import os
import shutil
import subprocess
import tempfile
import unittest

from daemon import BUILDDIR, EXECD

# The container backends too (make check's EXECD_PLUGIN_PATH lists only the
# plugins the daemon tests use); checking their config needs no engine.
PLUGIN_PATH = ":".join(os.path.join(BUILDDIR, d) for d in (
    "plugins/backend/local", "plugins/backend/docker", "plugins/backend/podman",
    "plugins/storage/file", "plugins/transport/http"))

BAD = """daemon: {{ state_dir = "{state}"; }};
storage: {{ plugin = "file"; path = "{state}/store"; }};
backends: ( {{ name = "local"; plugin = "local"; commands_allowed = ["/bin/true"]; }},
            {{ name = "docker"; plugin = "docker";
               workspace_mount = "bnid"; }},
            {{ name = "podman"; plugin = "podman";
               pull = "sometimes"; }},
            {{ name = "tls"; plugin = "docker"; endpoint = "tcp://127.0.0.1:2376";
               tls = false;
               tls_verify = true; }} );
transports: ( {{ plugin = "http";
                listen = "127.0.0.1:99999"; }} );
"""

GOOD = """daemon: {{ state_dir = "{state}"; }};
storage: {{ plugin = "file"; path = "{state}/store"; }};
backends: ( {{ name = "local"; plugin = "local"; commands_allowed = ["/bin/true"]; }} );
transports: ( {{ plugin = "http"; listen = "127.0.0.1:0"; }} );
"""


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="execd-check-")
        self.state = os.path.join(self.dir, "state")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check(self, text):
        path = os.path.join(self.dir, "execd.conf")
        with open(path, "w") as f:
            f.write(text.format(state=self.state))
        env = dict(os.environ, EXECD_PLUGIN_PATH=PLUGIN_PATH)
        out = subprocess.run([EXECD, "--check-config", "-c", path], env=env,
                             capture_output=True, text=True, timeout=60)
        return path, out.returncode, out.stdout + out.stderr

    def test_values_are_checked_and_every_error_named(self):
        for kind in ("docker", "podman"):
            if not os.path.exists(os.path.join(BUILDDIR, "plugins/backend", kind,
                                               "backend_%s.la" % kind)):
                self.skipTest("the %s backend is not built" % kind)
        path, rc, out = self.check(BAD)
        self.assertEqual(rc, 1, out)
        self.assertNotIn("configuration OK", out)
        self.assertIn("%s:5: backend 'docker': workspace_mount" % path, out)
        self.assertIn("%s:7: backend 'podman': pull" % path, out)
        self.assertIn("%s:10: backend 'tls': tls_verify" % path, out)
        self.assertIn("%s:12: transport 'http': listen '127.0.0.1:99999'" % path, out)
        # No side effects: the state directory and the store were not made.
        self.assertFalse(os.path.exists(self.state), out)

    def test_warm_containers_are_checked(self):
        if not os.path.exists(os.path.join(BUILDDIR, "plugins/backend/docker/backend_docker.la")):
            self.skipTest("the docker backend is not built")
        launcher = os.path.join(BUILDDIR, "lib/container/execd-warm-launch")
        head = ('daemon: {{ state_dir = "{state}"; }};\n'
                'storage: {{ plugin = "file"; path = "{state}/store"; }};\n'
                'transports: ( {{ plugin = "http"; listen = "127.0.0.1:0"; }} );\n'
                'backends: ( {{ name = "docker"; plugin = "docker"; '
                'images_allowed = [ "busybox:*" ];\n')
        cases = [
            ('warm = 2; }} );', "warm = 2 needs warm_images"),
            ('warm_images = [ "busybox:local" ]; }} );', "warm_images is set but warm is 0"),
            ('warm = 17; warm_images = [ "busybox:local" ]; }} );', "warm must be between 0 and 16"),
            ('warm = 1; warm_images = [ "alpine:3" ]; }} );',
             'warm_images[0] "alpine:3" is not in images_allowed'),
            ('warm = 1; warm_images = [ "busybox:local" ]; workspace_mount = "volume"; }} );',
             'warm containers need workspace_mount = "bind"'),
            ('warm = 1; warm_images = [ "busybox:local" ]; warm_launcher = "/nonexistent"; }} );',
             "warm_launcher /nonexistent: No such file or directory"),
        ]
        for tail, message in cases:
            path, rc, out = self.check(head + tail + "\n")
            self.assertEqual(rc, 1, (tail, out))
            self.assertIn(message, out, tail)
            self.assertIn("%s:5: backend 'docker'" % path, out, tail)
        path, rc, out = self.check(head + 'warm = 2; warm_images = [ "busybox:local" ]; '
                                   'warm_launcher = "%s"; }} );\n' % launcher)
        self.assertEqual(rc, 0, out)

    def test_a_good_config_is_ok_and_creates_nothing(self):
        path, rc, out = self.check(GOOD)
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration OK", out)
        self.assertFalse(os.path.exists(self.state), out)


if __name__ == "__main__":
    unittest.main()

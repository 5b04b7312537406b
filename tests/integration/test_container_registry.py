"""Image pulls from a real registry: the real daemon with the docker (and
podman) backend against a docker-registry of its own on 127.0.0.1 with one
htpasswd user.  The test pushes the engine's busybox:local into the registry
as 127.0.0.1:PORT/execd/busybox:1, then checks the pull policies
(if-not-present, always, never), registry_auth_file (right password, wrong
password, none), images_allowed, and that a missing image is a permanent
image_not_found while an unreachable registry or one answering 503 is a
retryable image_pull_failed.  Runs against each engine named by
EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET; the registry binary is
EXECD_REGISTRY (default docker-registry), htpasswd EXECD_HTPASSWD."""
import atexit
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from daemon import Daemon
from engine_api import IMAGE as SOURCE_IMAGE, Engine, suite_per_engine

REGISTRY_BIN = os.environ.get("EXECD_REGISTRY", "docker-registry")
HTPASSWD_BIN = os.environ.get("EXECD_HTPASSWD", "htpasswd")
USER, PASSWORD = "execd", "pull-s3cret"
FINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"]
RETRY = {"max_attempts": 3, "backoff_ms": 100}


def registry_auth(password, serveraddress):
    doc = {"username": USER, "password": password, "serveraddress": serveraddress}
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


class RegistryEngine(Engine):
    """The engine's REST API, with what this test sets up and checks."""

    def stream_errors(self, method, path, headers=None):
        """A progress-streaming call (push, pull): (status, error lines)."""
        status, body = self.raw(method, path, headers=headers)
        errors = []
        for line in body.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("error"):
                errors.append(doc["error"])
        if status != 200:
            errors.append(body)
        return status, errors

    def has_image(self, name):
        return self.raw("GET", "/images/%s/json" % name)[0] == 200

    def remove_image(self, name):
        status, body = self.raw("DELETE", "/images/%s" % name)
        assert status in (200, 404), "removing %s: %s %s" % (name, status, body)

    def pull(self, name, tag, auth):
        q = urllib.parse.urlencode({"fromImage": name, "tag": tag})
        return self.stream_errors("POST", "/images/create?" + q, {"X-Registry-Auth": auth})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry run directly (not its system service) with a config
    of its own: 127.0.0.1:<free port>, htpasswd auth, storage in a temp dir."""

    def __init__(self, top):
        self.dir = os.path.join(top, "registry")
        os.makedirs(self.dir)
        self.proc = None
        self.log_path = os.path.join(self.dir, "registry.log")
        htpasswd = os.path.join(self.dir, "htpasswd")
        # bcrypt: the registry's htpasswd auth accepts nothing else.
        with open(htpasswd, "w") as f:
            subprocess.run([HTPASSWD_BIN, "-Bbn", USER, PASSWORD], stdout=f, check=True)

    def start(self):
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "config.yml")
            with open(conf, "w") as f:
                f.write("""version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {d}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: execd-test-{port}
auth:
  htpasswd:
    realm: execd-test
    path: {d}/htpasswd
""".format(d=self.dir, port=self.port))
            log = open(self.log_path, "a")
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", conf], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            deadline = time.time() + 15
            while time.time() < deadline and self.proc.poll() is None:
                if self.answers():
                    return self
                time.sleep(0.05)
            self.stop()  # the port was taken meanwhile, or it failed: try again
        raise RuntimeError("the registry did not start:\n" + self.log_text())

    def answers(self):
        """True once /v2/ answers 401 (auth is on) to an anonymous client."""
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=2)
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            return False
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def manifest_hits(self, repo):
        """How many manifest requests of REPO the registry answered 200:
        only an authenticated client gets one."""
        pat = re.compile(r'"(?:GET|HEAD) /v2/%s/manifests/[^ ]+ HTTP/[0-9.]+" 200 ' % re.escape(repo))
        return len(pat.findall(self.log_text()))


# ---- the module's registry and pushed image -----------------------------------------------

class Unavailable(BaseHTTPRequestHandler):
    """A registry in an outage: every request gets 503."""

    def answer(self):
        body = b'{"errors": [{"code": "UNAVAILABLE", "message": "down for maintenance"}]}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


class Setup:
    top = None
    registry = None
    pushed = []   # (engine socket, image name) to untag at the end
    daemons = []  # execd instances still to stop


def cleanup_all():
    for d in Setup.daemons:
        d.cleanup()
    Setup.daemons = []
    if Setup.registry:
        Setup.registry.stop()
        Setup.registry = None
    for sock, name in Setup.pushed:
        try:
            RegistryEngine(sock).remove_image(name)
        except Exception as e:  # noqa: BLE001 -- cleanup goes on
            print("cleanup: removing %s: %s" % (name, e), file=sys.stderr)
    Setup.pushed = []
    if Setup.top:
        shutil.rmtree(Setup.top, ignore_errors=True)
        Setup.top = None


def on_sigterm(*_):
    raise KeyboardInterrupt  # unittest lets it through (not SystemExit): atexit then runs


# Whatever way the test ends (a failure, ^C, SIGTERM), the registry and the
# daemons are stopped, the image names removed from the engines, the files
# deleted.
atexit.register(cleanup_all)
signal.signal(signal.SIGTERM, on_sigterm)


def registry_image():
    """host:port/execd/busybox:1, pushed on the first call."""
    if Setup.registry:
        return "127.0.0.1:%d/execd/busybox" % Setup.registry.port, "1"
    Setup.top = tempfile.mkdtemp(prefix="execd-registry-")
    Setup.registry = Registry(Setup.top).start()
    repo = "127.0.0.1:%d/execd/busybox" % Setup.registry.port
    # Pushed through the docker engine: a registry on 127.0.0.0/8 is
    # insecure (plain HTTP) to dockerd by default.
    docker = RegistryEngine(os.environ["EXECD_DOCKER_SOCKET"])
    status, body = docker.call("POST", "/images/%s/tag?%s" % (
        SOURCE_IMAGE, urllib.parse.urlencode({"repo": repo, "tag": "1"})))
    if status != 201:
        raise RuntimeError("tagging %s as %s:1: %s %s" % (SOURCE_IMAGE, repo, status, body))
    Setup.pushed.append((docker.sock, repo + ":1"))
    auth = registry_auth(PASSWORD, "127.0.0.1:%d" % Setup.registry.port)
    status, errors = docker.stream_errors("POST", "/images/%s/push?tag=1" % repo,
                                          {"X-Registry-Auth": auth})
    if errors:
        raise RuntimeError("pushing %s:1: %s\nregistry log:\n%s"
                           % (repo, errors, Setup.registry.log_text()[-3000:]))
    return repo, "1"


class RegistryPullTest(unittest.TestCase):
    engine_name = None
    sock = None

    @classmethod
    def setUpClass(cls):
        if not cls.engine_name:
            raise unittest.SkipTest("abstract")
        cls.repo, cls.tag = registry_image()
        cls.image = "%s:%s" % (cls.repo, cls.tag)
        cls.repo_path = cls.repo.split("/", 1)[1]  # execd/busybox
        cls.server = cls.repo.split("/", 1)[0]     # 127.0.0.1:PORT
        cls.engine = RegistryEngine(cls.sock)
        Setup.pushed.append((cls.sock, cls.image))
        cls.good_auth = registry_auth(PASSWORD, cls.server)
        # The engine itself must reach the registry; podman only does over
        # plain HTTP when its registries.conf marks 127.0.0.1 insecure, as
        # scripts/engines.sh sets up for the service it starts.
        cls.engine.remove_image(cls.image)
        status, errors = cls.engine.pull(cls.repo, cls.tag, cls.good_auth)
        if errors and "HTTP response to HTTPS client" in " ".join(errors):
            why = ("%s at %s refuses plain HTTP to the registry on 127.0.0.1: its service was "
                   "not started with a registries.conf marking 127.0.0.1 insecure (restart it: "
                   "scripts/engines.sh stop; scripts/engines.sh start)" % (cls.engine_name, cls.sock))
            if os.environ.get("CI"):
                raise AssertionError(why)
            print("\n!!! SKIP: " + why + "\n", file=sys.stderr)
            raise unittest.SkipTest(why)
        assert not errors, "the engine could not pull %s itself: %s" % (cls.image, errors)
        cls.engine.remove_image(cls.image)

        top = Setup.top
        files = {}
        for name, password in (("good", PASSWORD), ("bad", "not-" + PASSWORD)):
            files[name] = os.path.join(top, "%s-auth-%s.json" % (cls.engine_name, name))
            with open(files[name], "w") as f:
                json.dump({"username": USER, "password": password, "serveraddress": cls.server}, f)
            os.chmod(files[name], 0o600)
        allowed = "%s/execd/*" % cls.server
        backends = ""
        for suffix, pull, auth in (("ifnp", "if-not-present", "good"), ("always", "always", "good"),
                                   ("badauth", "if-not-present", "bad"),
                                   ("noauth", "if-not-present", None), ("never", "never", "good"),
                                   ("outage", "if-not-present", None)):
            backends += (', {{ name = "{e}-{s}"; plugin = "{e}"; socket = "{sock}"; pull = "{p}"; '
                         'images_allowed = [ "{a}" ];{auth} }}').format(
                e=cls.engine_name, s=suffix, sock=cls.sock, p=pull,
                a="127.0.0.1:*" if suffix == "outage" else allowed,
                auth=' registry_auth_file = "%s";' % files[auth] if auth else "")
        cls.d = Daemon(extra_backends=backends)
        Setup.daemons.append(cls.d)
        cls.addClassCleanup(cls.stop_daemon)
        cls.d.start()

    @classmethod
    def stop_daemon(cls):
        cls.d.cleanup()
        Setup.daemons.remove(cls.d)

    def backend(self, suffix):
        return "%s-%s" % (self.engine_name, suffix)

    def run_job(self, suffix, image=None, expect_status=201):
        req = {"backend": self.backend(suffix),
               "container": {"image": image or self.image,
                             "command": ["/bin/sh", "-c", "echo pulled-image-runs"]},
               "output": {"logs": True}, "retry": RETRY}
        status, doc = self.d.submit(req)
        self.assertEqual(status, expect_status, doc)
        if expect_status != 201:
            return doc
        eid = doc["execution_id"]
        doc = self.d.wait_state(eid, FINAL, timeout=60)
        self.assertEqual(self.engine.containers_left(eid), [],
                         "a container of %s is left" % eid)
        return doc

    def pull_lines(self, eid):
        return [l for l in self.d.log_text().splitlines() if "execution %s: pulling " % eid in l]

    def assert_pulled(self, doc, hits_before):
        eid = doc["execution_id"]
        lines = self.pull_lines(eid)
        self.assertTrue(any(l.endswith("pulling image " + self.image) for l in lines),
                        "no 'pulling image' line for %s in the log:\n%s" % (eid, "\n".join(lines)))
        status_lines = [l for l in lines if ("pulling %s: " % self.image) in l]
        self.assertTrue(status_lines, "no pull progress logged for %s:\n%s" % (eid, "\n".join(lines)))
        # At info, from this backend: "info [backend <name>] execution ...".
        prefix = "info [backend %s] " % doc["backend"]
        self.assertEqual([l for l in lines if not l.startswith(prefix)], [])
        self.assertGreater(Setup.registry.manifest_hits(self.repo_path), hits_before,
                           "the registry served no manifest to the pull")

    def assert_image_not_found(self, doc):
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "image_not_found", doc)
        self.assertIn(self.image, doc["error"]["message"])
        self.assertEqual(doc["attempts"], 1, "retried: %s" % doc.get("history"))
        self.assertFalse(self.engine.has_image(self.image), "the image is there after all")

    def make_absent(self):
        self.engine.remove_image(self.image)
        self.assertFalse(self.engine.has_image(self.image))

    def make_present(self):
        status, errors = self.engine.pull(self.repo, self.tag, self.good_auth)
        self.assertEqual(errors, [], "setting up: pulling %s" % self.image)
        self.assertTrue(self.engine.has_image(self.image))

    # ---- the pull policies ------------------------------------------------------------

    def test_if_not_present_pulls_a_missing_image(self):
        self.make_absent()
        hits = Setup.registry.manifest_hits(self.repo_path)
        doc = self.run_job("ifnp")
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["attempts"], 1)
        self.assertEqual(doc["result"]["logs"], "pulled-image-runs\n")
        self.assertTrue(self.engine.has_image(self.image), "the image was not pulled")
        self.assert_pulled(doc, hits)

    def test_if_not_present_uses_a_present_image(self):
        self.make_present()
        hits = Setup.registry.manifest_hits(self.repo_path)
        doc = self.run_job("ifnp")
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(self.pull_lines(doc["execution_id"]), [])
        self.assertEqual(Setup.registry.manifest_hits(self.repo_path), hits)

    def test_always_pulls_a_present_image_again(self):
        self.make_present()
        hits = Setup.registry.manifest_hits(self.repo_path)
        doc = self.run_job("always")
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["logs"], "pulled-image-runs\n")
        self.assert_pulled(doc, hits)

    def test_never_with_the_image_absent(self):
        self.make_absent()
        hits = Setup.registry.manifest_hits(self.repo_path)
        doc = self.run_job("never")
        self.assert_image_not_found(doc)
        self.assertIn("never", doc["error"]["message"])
        self.assertEqual(self.pull_lines(doc["execution_id"]), [], "pull is never, yet it pulled")
        self.assertEqual(Setup.registry.manifest_hits(self.repo_path), hits)

    # ---- registry_auth_file -----------------------------------------------------------

    def test_wrong_password(self):
        self.make_absent()
        doc = self.run_job("badauth")
        self.assert_image_not_found(doc)
        # The engine's reason, not only its HTTP status.
        self.assertRegex(doc["error"]["message"], "unauthorized|authentication required")
        self.assertTrue(any(l.endswith("pulling image " + self.image)
                            for l in self.pull_lines(doc["execution_id"])), "no pull was tried")

    def test_no_auth_file(self):
        self.make_absent()
        doc = self.run_job("noauth")
        self.assert_image_not_found(doc)
        self.assertRegex(doc["error"]["message"],
                         "unauthorized|authentication required|no basic auth credentials")
        self.assertTrue(any(l.endswith("pulling image " + self.image)
                            for l in self.pull_lines(doc["execution_id"])), "no pull was tried")

    # ---- missing image (permanent) versus registry outage (retryable) ------------------

    def test_missing_tag_is_permanent_image_not_found(self):
        missing = "%s:no-such-tag" % self.repo
        doc = self.run_job("ifnp", image=missing)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "image_not_found", doc)
        self.assertIn(missing, doc["error"]["message"])
        self.assertEqual(doc["attempts"], 1, "retried: %s" % doc.get("history"))

    def assert_pull_failed_and_retried(self, doc, image):
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["error"]["code"], "image_pull_failed", doc)
        self.assertIn(image, doc["error"]["message"])
        self.assertEqual(doc["attempts"], RETRY["max_attempts"],
                         "not retried: %s" % doc.get("history"))
        self.assertIn("RETRY_WAIT", [h["to"] for h in doc["history"]])

    def test_unreachable_registry_is_retryable(self):
        image = "127.0.0.1:%d/execd/busybox:1" % free_port()  # nothing listens there
        doc = self.run_job("outage", image=image)
        self.assert_pull_failed_and_retried(doc, image)

    def test_registry_answering_503_is_retryable(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            image = "127.0.0.1:%d/execd/busybox:1" % server.server_address[1]
            doc = self.run_job("outage", image=image)
        finally:
            server.shutdown()
            server.server_close()
        self.assert_pull_failed_and_retried(doc, image)

    # ---- images_allowed ---------------------------------------------------------------

    def test_image_outside_images_allowed_is_refused_at_submit(self):
        other = "%s/other/busybox:1" % self.server
        hits = Setup.registry.log_text().count("/v2/other/")
        doc = self.run_job("ifnp", image=other, expect_status=403)
        self.assertEqual(doc["error"]["code"], "image_not_allowed", doc)
        self.assertIn(other, doc["error"]["message"])
        self.assertEqual(self.engine.containers_left_labelled("execd.daemon=" + self.d.state), [])
        self.assertEqual(Setup.registry.log_text().count("/v2/other/"), hits)
        self.assertNotIn("pulling image " + other, self.d.log_text())


def load_tests(loader, tests, pattern):
    return suite_per_engine(loader, RegistryPullTest, "RegistryPull")


if __name__ == "__main__":
    if not os.environ.get("EXECD_DOCKER_SOCKET"):
        print("SKIP: no docker engine to push the test image with (EXECD_DOCKER_SOCKET unset)")
        sys.exit(77)
    unittest.main(verbosity=2)

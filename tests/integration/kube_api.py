"""What the kubernetes integration tests read from the API server (Jobs and
pods by label, cluster-wide lists) and how they stop and start it: the
kube-apiserver of kube-local, killed and started again with the command
line and PID file kube-local gave it."""
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

API = os.environ.get("KUBE_API", "")
TOKEN = os.environ.get("KUBE_TOKEN", "")
CA = os.environ.get("KUBE_CA", "")
NAMESPACE = os.environ.get("EXECD_KUBE_NAMESPACE", "default")
IMAGE = os.environ.get("EXECD_KUBE_IMAGE", "local/busybox:1")


class KubeAPI:
    def __init__(self, api=API, token=TOKEN, ca=CA):
        self.api = api
        self.token = token
        self.ctx = ssl.create_default_context(cafile=ca)

    def get(self, path, timeout=10):
        """(status, the JSON answer); status 0 when the server does not answer."""
        req = urllib.request.Request(self.api + path)
        req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text.startswith(("{", "[")) else text)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return 0, str(e)

    def names(self, path):
        status, doc = self.get(path)
        assert status == 200, "GET %s: %s %s" % (path, status, doc)
        return ["%s/%s" % (i["metadata"].get("namespace", ""), i["metadata"]["name"])
                for i in doc["items"]]

    def of_execution(self, eid):
        """Jobs and pods labelled with the execution, in the test namespace."""
        sel = "labelSelector=" + urllib.parse.quote("execd.execution=" + eid)
        return (self.names("/apis/batch/v1/namespaces/%s/jobs?%s" % (NAMESPACE, sel)),
                self.names("/api/v1/namespaces/%s/pods?%s" % (NAMESPACE, sel)))

    def everything(self):
        """Every Job and pod of every namespace: `kubectl get jobs,pods -A`."""
        return self.names("/apis/batch/v1/jobs"), self.names("/api/v1/pods")

    def wait_gone(self, eid=None, bound=120):
        """Polls until no Job and no pod (of the execution, or at all) is
        left, for at most BOUND seconds (a deleted pod lives on through its
        termination grace); returns what is left then."""
        deadline = time.time() + bound
        while True:
            left = self.of_execution(eid) if eid else self.everything()
            if (not left[0] and not left[1]) or time.time() > deadline:
                return left
            time.sleep(0.5)

    def ready(self):
        return self.get("/readyz", timeout=3)[0] == 200


STARTED = []


class ApiServer:
    """kube-local's kube-apiserver, stopped and started again.  Its PID file
    (run/apiserver.pid) is kept up to date, so `kube-local down` stops the
    new process."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.pid_file = os.path.join(run_dir, "apiserver.pid")
        self.argv = None

    def available(self):
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
        except (OSError, ValueError):
            return False
        return bool(argv) and os.path.basename(argv[0]) == "kube-apiserver"

    def stop(self, kube):
        """Stops it: SIGTERM, then SIGKILL if it still runs after 3 s (a
        kube-apiserver that shuts down gracefully keeps its open watches
        for up to a minute); returns once the process is gone."""
        with open(self.pid_file) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            self.argv = [a.decode() for a in f.read().split(b"\0") if a]
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 3
        while self.alive(pid):
            if time.time() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.time() + 30
            time.sleep(0.1)
        assert not kube.ready(), "the API server still answers"

    @staticmethod
    def alive(pid):
        """True while the process runs (a zombie, not yet reaped by the
        shell that started it, has stopped)."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                return not f.read().split(") ")[1].startswith("Z")
        except (OSError, IndexError):
            return False

    def start(self, kube, bound=90):
        assert self.argv, "stop() first"
        with open(os.path.join(self.run_dir, "apiserver.log"), "a") as log:
            proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        with open(self.pid_file, "w") as f:
            f.write("%d\n" % proc.pid)
        STARTED.append(proc)  # left running: kube-local down stops it
        deadline = time.time() + bound
        while not kube.ready():
            assert proc.poll() is None, "kube-apiserver exited: see %s/apiserver.log" % self.run_dir
            assert time.time() < deadline, "the API server did not answer again"
            time.sleep(0.2)
        self.argv = None

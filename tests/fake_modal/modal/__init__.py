"""A fake `modal` package for aisys's tests: the classes and `.aio` methods aisys's bridge uses,
implemented with local processes, so the whole Modal backend runs end to end without Modal.

Each sandbox is a record in $FAKE_MODAL_STATE/sandboxes/<id>.json (so a second bridge process can
reattach by id, list by tag and terminate), its processes are local processes in their own
sessions, and paths are host paths: a test picks a workdir under its temp dir. Volumes are folders
in $FAKE_MODAL_STATE/volumes/<name>, symlinked at their mount path.

Failure injection, for the error tests: FAKE_MODAL_FAIL_CREATE=<ErrorClass> makes Sandbox.create
raise modal.exception.<ErrorClass>; FAKE_MODAL_FAIL_EXEC=<ErrorClass> does the same for exec.
FAKE_MODAL_CREATE_DELAY=<seconds> makes Sandbox.create take that long, as a real one can.

It must not pretend more than it does: there is no image build and no isolation.
"""

import asyncio
import json
import os
import secrets
import signal

from . import exception
from .config import config  # noqa: F401

__version__ = "1.6.99+fake"
READ_CHUNK = 64 * 1024


class _Aio:
    """`obj.method.aio(...)`: the only calling convention the bridge uses."""

    def __init__(self, fn, bound):
        self.aio = fn.__get__(bound) if bound is not None else fn


def aio(fn):
    class D:
        def __get__(self, obj, owner):
            return _Aio(fn, obj if obj is not None else None)

    return D()


def aio_class(fn):
    class D:
        def __get__(self, obj, owner):
            return _Aio(fn, owner)

    return D()


def _state():
    root = os.environ.get("FAKE_MODAL_STATE")
    if not root:
        raise exception.InvalidError("fake modal: FAKE_MODAL_STATE is not set")
    os.makedirs(os.path.join(root, "sandboxes"), exist_ok=True)
    os.makedirs(os.path.join(root, "volumes"), exist_ok=True)
    return root


def _fail(kind):
    name = os.environ.get("FAKE_MODAL_FAIL_" + kind)
    if name:
        raise getattr(exception, name)(f"fake modal: injected {name}")


class App:
    def __init__(self, name, app_id):
        self.name = name
        self.app_id = app_id

    @aio_class
    async def lookup(cls, name, *, client=None, environment_name=None, create_if_missing=False):
        path = os.path.join(_state(), "apps.json")
        apps = json.load(open(path)) if os.path.exists(path) else {}
        if name not in apps:
            if not create_if_missing:
                raise exception.NotFoundError(f"App '{name}' not found")
            apps[name] = "ap-" + secrets.token_hex(6)
            json.dump(apps, open(path, "w"))
        return cls(name, apps[name])


class Image:
    def __init__(self, layers):
        self.layers = layers

    @staticmethod
    def debian_slim(python_version=None, force_build=False):
        return Image(["debian_slim"])

    @staticmethod
    def from_registry(tag, secret=None, *, setup_dockerfile_commands=[], force_build=False, add_python=None, **kwargs):
        return Image(["registry:" + tag])

    def apt_install(self, *packages, force_build=False, env=None, secrets=None, gpu=None):
        return Image(self.layers + ["apt:" + " ".join(packages)])

    def run_commands(self, *commands, env=None, secrets=None, volumes=None, gpu=None, force_build=False):
        return Image(self.layers + ["run:" + c for c in commands])


class Secret:
    def __init__(self, env):
        self.env = env

    @staticmethod
    def from_dict(env_dict={}):
        return Secret(dict(env_dict))


class Volume:
    def __init__(self, name, path):
        self.name = name
        self.path = path

    @staticmethod
    def from_name(name, *, environment_name=None, create_if_missing=False, version=None, create_options=None, client=None):
        path = os.path.join(_state(), "volumes", name)
        if not os.path.isdir(path):
            if not create_if_missing:
                raise exception.NotFoundError(f"Volume '{name}' not found")
            os.makedirs(path)
        return Volume(name, path)


class enable_output:
    def __enter__(self):
        print("fake modal: building image", flush=True)

    def __exit__(self, *exc):
        return False


class StreamReader:
    def __init__(self, stream, text):
        self._stream = stream
        self._text = text

    def __aiter__(self):
        return self._chunks()

    async def _chunks(self):
        while True:
            chunk = await self._stream.read(READ_CHUNK)
            if not chunk:
                return
            yield chunk.decode(errors="replace") if self._text else chunk

    @aio
    async def read(self):
        data = await self._stream.read()
        return data.decode(errors="replace") if self._text else data


class StreamWriter:
    def __init__(self, stream):
        self._stream = stream

    def write(self, data):
        self._stream.write(data.encode() if isinstance(data, str) else bytes(data))

    def write_eof(self):
        self._stream.write_eof()

    @aio
    async def drain(self):
        await self._stream.drain()


class ContainerProcess:
    def __init__(self, proc, text):
        self._proc = proc
        self.stdin = StreamWriter(proc.stdin)
        self.stdout = StreamReader(proc.stdout, text)
        self.stderr = StreamReader(proc.stderr, text)

    @aio
    async def wait(self):
        return await self._proc.wait()


def _record_path(sid):
    return os.path.join(_state(), "sandboxes", sid + ".json")


def _load(sid):
    try:
        with open(_record_path(sid)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise exception.NotFoundError(f"Sandbox with id '{sid}' not found") from None


def _save(rec):
    tmp = _record_path(rec["id"]) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f)
    os.replace(tmp, _record_path(rec["id"]))


class Sandbox:
    def __init__(self, sid):
        self.object_id = sid

    @aio_class
    async def create(cls, *args, app=None, name=None, tags=None, image=None, env=None, secrets=None,
                     timeout=300, idle_timeout=None, workdir=None, cpu=None, memory=None, volumes={},
                     verbose=False, **rest):
        _fail("CREATE")
        await asyncio.sleep(float(os.environ.get("FAKE_MODAL_CREATE_DELAY", "0")))
        sid = "sb-" + os.urandom(8).hex()
        sandbox_env = {}
        for s in secrets or []:
            sandbox_env.update(s.env)
        sandbox_env.update(env or {})
        for path, vol in (volumes or {}).items():
            if os.path.islink(path):
                os.unlink(path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(vol.path, path)
        if workdir:
            os.makedirs(workdir, exist_ok=True)
        rec = {
            "id": sid, "app": app.app_id if app else None, "tags": dict(tags or {}),
            "env": sandbox_env, "workdir": workdir, "timeout": timeout, "idle_timeout": idle_timeout,
            "cpu": cpu, "memory": memory, "image": image.layers if image else None,
            "volumes": {p: v.name for p, v in (volumes or {}).items()}, "pids": [], "terminated": False,
        }
        _save(rec)
        return cls(sid)

    @aio_class
    async def from_id(cls, sandbox_id, client=None):
        _load(sandbox_id)
        return cls(sandbox_id)

    @aio_class
    async def list(cls, *, app_id=None, tags=None, client=None):
        d = os.path.join(_state(), "sandboxes")
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json"):
                continue
            rec = _load(f[:-5])
            if rec["terminated"] or (app_id and rec["app"] != app_id):
                continue
            if all(rec["tags"].get(k) == v for k, v in (tags or {}).items()):
                yield cls(rec["id"])

    @aio
    async def get_tags(self):
        return _load(self.object_id)["tags"]

    @aio
    async def set_tags(self, tags, *, client=None):
        rec = _load(self.object_id)
        rec["tags"] = dict(tags)
        _save(rec)

    @aio
    async def poll(self):
        return 0 if _load(self.object_id)["terminated"] else None

    @aio
    async def exec(self, *args, stdout=None, stderr=None, timeout=None, workdir=None, env=None,
                   secrets=None, text=True, bufsize=-1, pty=False, **rest):
        _fail("EXEC")
        rec = _load(self.object_id)
        if rec["terminated"]:
            raise exception.SandboxTerminatedError("Sandbox has been terminated")
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        full.update(rec["env"])
        full.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=workdir or rec["workdir"] or None, env=full,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, limit=READ_CHUNK)
        rec = _load(self.object_id)
        rec["pids"].append(proc.pid)
        _save(rec)
        return ContainerProcess(proc, text)

    @aio
    async def terminate(self, *, wait=False):
        rec = _load(self.object_id)
        for pid in rec["pids"]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        rec["terminated"] = True
        _save(rec)

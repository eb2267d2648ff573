"""aisys's Modal bridge: drives Modal Sandboxes through Modal's official SDK for aisys.

aisys starts this program (embedded in its binary, written to its data dir) with python3 and
speaks newline-delimited JSON with it over stdin/stdout. One bridge process serves many
sandboxes: every request runs as its own asyncio task on Modal's async (`.aio`) API.

Protocol (one JSON object per line):
  first line out:  {"event": "ready", "modal_version": ...} or {"event": "fatal", "class", "message"}
  requests in:     {"id": N, "op": "...", ...}
  replies out:     {"id": N, "ok": {...}} or {"id": N, "error": {"class": ..., "message": ...}}
  exec events out: {"exec": X, "fd": 1|2, "data": base64} ... then {"exec": X, "exit": code}
                   (or {"exec": X, "error": {...}} when the stream broke)

It must not print anything else on stdout: stdout is moved to a private descriptor at start,
and fd 1 then points at stderr, so stray prints (Modal's build logs included) go to stderr.
It must not decide policy: which image, env, tags and limits is aisys's choice.
"""

import asyncio
import base64
import json
import os
import signal
import sys

PROTOCOL = 1
# Largest request line accepted: a file write or a stdin chunk travels in one line (base64).
MAX_LINE = 256 * 1024 * 1024
# Size of each read from a process's stdout/stderr when Modal hands us more at once.
READ_CHUNK = 1024 * 1024
# Memory a sandbox with a memory limit asks Modal to reserve, in MiB: Modal's own default request,
# since a request is billed even when unused (the limit is what aisys was told).
MEMORY_REQUEST_MIB = 128

_proto = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
sys.stdout = sys.stderr


def emit(obj):
    _proto.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")


def error_of(exc):
    return {"class": type(exc).__name__, "message": str(exc) or repr(exc)}


def fatal(cls, message):
    emit({"event": "fatal", "class": cls, "message": message})
    sys.exit(1)


try:
    import modal
    import modal.exception  # noqa: F401  (error classes are reported by name)
    from modal.config import config as modal_config
except Exception as e:  # ImportError, or a broken install
    fatal("ModalMissing", f"{type(e).__name__}: {e}")


class Bridge:
    def __init__(self):
        self.sandboxes = {}  # sandbox id -> modal.Sandbox
        self.owned = set()  # ids to terminate when aisys goes away
        self.execs = {}  # exec id -> (sandbox, stdin queue)
        self.apps = {}

    # ---- helpers ----
    async def sandbox(self, sid):
        sb = self.sandboxes.get(sid)
        if sb is None:
            sb = await modal.Sandbox.from_id.aio(sid)
            self.sandboxes[sid] = sb
        return sb

    async def app(self, name, create):
        app = self.apps.get(name)
        if app is None:
            app = await modal.App.lookup.aio(name, create_if_missing=create)
            self.apps[name] = app
        return app

    def image(self, spec):
        if spec.get("registry"):
            img = modal.Image.from_registry(spec["registry"])
        else:
            img = modal.Image.debian_slim()
        if spec.get("apt"):
            img = img.apt_install(*spec["apt"])
        if spec.get("commands"):
            img = img.run_commands(*spec["commands"])
        return img

    async def run(self, sb, argv, stdin=None, workdir=None):
        """Runs argv to completion; returns (exit code, stdout bytes, stderr bytes)."""
        p = await sb.exec.aio(*argv, workdir=workdir, text=False)

        async def feed():
            try:
                if stdin is not None:
                    p.stdin.write(stdin)
                p.stdin.write_eof()
                await p.stdin.drain.aio()
            except (ConnectionError, BrokenPipeError):
                pass  # it exited without reading everything: its exit code tells why

        _, out, err = await asyncio.gather(feed(), p.stdout.read.aio(), p.stderr.read.aio())
        code = await p.wait.aio()
        return code, out, err

    # ---- operations ----
    async def op_create(self, r):
        app = await self.app(r.get("app") or "aisys", True)
        kwargs = dict(
            app=app,
            image=self.image(r.get("image") or {}),
            timeout=r.get("timeout"),
            idle_timeout=r.get("idle_timeout"),
            workdir=r.get("workdir"),
            tags=r.get("tags") or None,
            env=r.get("env") or None,
            verbose=bool(r.get("verbose")),
        )
        if r.get("cpu") is not None:
            kwargs["cpu"] = float(r["cpu"])
        if r.get("memory_limit") is not None:
            # A hard limit, with Modal's usual request below it: a request is billed even unused.
            limit = int(r["memory_limit"])
            kwargs["memory"] = (min(MEMORY_REQUEST_MIB, limit), limit)
        if r.get("secret_env"):
            kwargs["secrets"] = [modal.Secret.from_dict(r["secret_env"])]
        if r.get("volumes"):
            kwargs["volumes"] = {
                path: modal.Volume.from_name(name, create_if_missing=True)
                for path, name in r["volumes"].items()
            }
        if r.get("verbose"):
            with modal.enable_output():
                sb = await modal.Sandbox.create.aio(**kwargs)
        else:
            sb = await modal.Sandbox.create.aio(**kwargs)
        sid = sb.object_id
        self.sandboxes[sid] = sb
        if r.get("terminate_on_disconnect", True):
            self.owned.add(sid)
        return {"sandbox_id": sid}

    async def op_attach(self, r):
        sb = await self.sandbox(r["sandbox_id"])
        code = await sb.poll.aio()
        tags = await sb.get_tags.aio()
        return {"sandbox_id": sb.object_id, "running": code is None, "tags": tags}

    async def op_exec(self, r):
        sb = await self.sandbox(r["sandbox_id"])
        xid = r["exec_id"]
        pidfile = f"/tmp/.aisys-exec-{xid}.pid"
        # The wrapper records the pid, so that `kill` can signal the process (and its group).
        argv = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile] + list(r["argv"])
        p = await sb.exec.aio(*argv, workdir=r.get("workdir"), env=r.get("env") or None, text=False)
        queue = asyncio.Queue()
        self.execs[xid] = (sb, queue, pidfile)
        asyncio.create_task(self.pump_stdin(xid, p, queue))
        asyncio.create_task(self.pump_output(xid, p))
        return {}

    async def pump_stdin(self, xid, p, queue):
        while True:
            data, done = await queue.get()
            try:
                if data is None:
                    p.stdin.write_eof()
                else:
                    p.stdin.write(data)
                await p.stdin.drain.aio()
                done.set_result(None)
            except Exception as e:
                if not done.done():
                    done.set_exception(e)
            if data is None:
                return

    async def pump_output(self, xid, p):
        async def copy(stream, fd):
            async for chunk in stream:
                if isinstance(chunk, str):
                    chunk = chunk.encode()
                for i in range(0, len(chunk), READ_CHUNK):
                    emit({"exec": xid, "fd": fd, "data": base64.b64encode(chunk[i : i + READ_CHUNK]).decode()})

        try:
            await asyncio.gather(copy(p.stdout, 1), copy(p.stderr, 2))
            code = await p.wait.aio()
            emit({"exec": xid, "exit": code})
        except Exception as e:
            emit({"exec": xid, "error": error_of(e)})
        finally:
            self.execs.pop(xid, None)

    async def stdin_op(self, xid, data):
        entry = self.execs.get(xid)
        if entry is None:
            raise ProcessLookupError(f"exec {xid} has ended")
        done = asyncio.get_running_loop().create_future()
        await entry[1].put((data, done))
        await done

    async def op_stdin(self, r):
        await self.stdin_op(r["exec_id"], base64.b64decode(r["data"]))
        return {}

    async def op_close_stdin(self, r):
        await self.stdin_op(r["exec_id"], None)
        return {}

    async def op_kill(self, r):
        entry = self.execs.get(r["exec_id"])
        if entry is None:
            return {"killed": False}
        sb, _, pidfile = entry
        sig = "KILL" if r.get("signal") == "KILL" else "TERM"
        script = f'p=$(cat "$0" 2>/dev/null) || exit 0; kill -s {sig} -- -$p 2>/dev/null || kill -s {sig} $p 2>/dev/null; true'
        await self.run(sb, ["sh", "-c", script, pidfile])
        return {"killed": True}

    async def op_read_file(self, r):
        sb = await self.sandbox(r["sandbox_id"])
        code, out, err = await self.run(sb, ["cat", "--", r["path"]])
        if code != 0:
            raise FileNotFoundError(err.decode(errors="replace").strip() or f"cat exited with {code}")
        return {"data": base64.b64encode(out).decode()}

    async def op_write_file(self, r):
        sb = await self.sandbox(r["sandbox_id"])
        script = 'mkdir -p "$(dirname "$0")" && cat > "$0"'
        code, _, err = await self.run(sb, ["sh", "-c", script, r["path"]], stdin=base64.b64decode(r["data"]))
        if code != 0:
            raise OSError(err.decode(errors="replace").strip() or f"write exited with {code}")
        return {}

    async def op_terminate(self, r):
        sid = r["sandbox_id"]
        sb = await self.sandbox(sid)
        await sb.terminate.aio()
        self.sandboxes.pop(sid, None)
        self.owned.discard(sid)
        return {}

    async def op_list(self, r):
        app_id = None
        if r.get("app"):
            try:
                app_id = (await self.app(r["app"], False)).app_id
            except modal.exception.NotFoundError:
                return {"sandboxes": []}
        found = []
        async for sb in modal.Sandbox.list.aio(app_id=app_id, tags=r.get("tags") or None):
            found.append({"sandbox_id": sb.object_id, "tags": await sb.get_tags.aio()})
        return {"sandboxes": found}

    async def op_ping(self, r):
        return {}

    # ---- plumbing ----
    async def handle(self, req):
        rid = req.get("id")
        try:
            fn = getattr(self, "op_" + str(req.get("op")), None)
            if fn is None:
                raise ValueError(f"unknown op {req.get('op')!r}")
            emit({"id": rid, "ok": await fn(req)})
        except Exception as e:
            emit({"id": rid, "error": error_of(e)})

    async def cleanup(self):
        """aisys went away (its end of stdin closed): terminate the sandboxes it owned."""
        for sid in list(self.owned):
            try:
                await (await self.sandbox(sid)).terminate.aio()
            except Exception as e:
                print(f"aisys modal bridge: terminate {sid}: {e}", file=sys.stderr)


async def main():
    # Ctrl-C belongs to aisys: it terminates sandboxes through us, so we must outlive the signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not (modal_config.get("token_id") and modal_config.get("token_secret")):
        fatal("NoCredentials", "no Modal token in ~/.modal.toml or MODAL_TOKEN_ID/MODAL_TOKEN_SECRET")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"event": "ready", "protocol": PROTOCOL, "modal_version": getattr(modal, "__version__", "?")})
    bridge = Bridge()
    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            emit({"event": "log", "message": f"malformed request line: {e}"})
            continue
        t = asyncio.create_task(bridge.handle(req))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    await bridge.cleanup()


if __name__ == "__main__":
    asyncio.run(main())

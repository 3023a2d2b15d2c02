"""A FastAGI server on asyncio, safe against clients that misbehave.

Asterisk's res_agi connects, sends ``agi_*: value`` lines and a blank line, then
reads our commands and answers each with ``200 result=...``. Between a command
and its answer a ``HANGUP`` line may come when the caller hangs up (recorded in
``shared/pbx-traces/fastagi``). Every read has a deadline, the environment is
bounded, and a connect-and-close (a health check) costs nothing: panoramisk's
``fast_agi`` spins at 100 % CPU on that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

T = TypeVar("T")

# How soon a thread waiting for the GIL gets it from a busy one (CPython's default 5 ms):
# a route dialogue takes the GIL at each of its steps (the environment, the decision's
# database call, each command), and with the web loop busy each step would wait the
# whole interval.
SWITCH_INTERVAL = 0.0005

MAX_LINE = 8192
MAX_ENV_LINES = 128


class AgiHangup(Exception):
    """The channel hung up or the connection closed: stop the dialogue."""


class AgiProtocolError(Exception):
    """The client sent something that is not AGI."""


class AgiSession:
    """One FastAGI dialogue."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: dict[str, str],
        command_timeout: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.command_timeout = command_timeout
        self.hung_up = False

    @property
    def script(self) -> str:
        """The script asked for: ``route`` in ``agi://host:4573/route``."""
        name = self.env.get("agi_network_script", "")
        if not name:
            name = urlsplit(self.env.get("agi_request", "")).path
        return name.strip("/").split("?", 1)[0]

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``, ``agi_arg_2``, ... in order."""
        out: list[str] = []
        index = 1
        while f"agi_arg_{index}" in self.env:
            out.append(self.env[f"agi_arg_{index}"])
            index += 1
        return out

    async def command(self, text: str) -> tuple[int, str]:
        """Send one AGI command; return (result code, the rest of the answer)."""
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        self.writer.write(text.encode() + b"\n")
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise AgiHangup("connection closed") from exc
        while True:
            line = await self._line()
            if line == "HANGUP":
                self.hung_up = True  # the answer to our command still follows
                continue
            code, _, rest = line.partition(" ")
            if code == "200":
                result = rest.partition("result=")[2]
                number, _, extra = result.partition(" ")
                try:
                    return int(number), extra.strip().strip("()")
                except ValueError:
                    raise AgiProtocolError(f"unreadable answer {line[:80]!r}") from None
            if code == "511":
                raise AgiHangup("the channel is gone (511)")
            if code.startswith("520"):
                while not line.startswith("520 "):
                    line = await self._line()
                raise AgiProtocolError(f"Asterisk did not understand {text.split()[0]!r}")
            raise AgiProtocolError(f"unexpected answer {line[:80]!r}")

    async def set_variable(self, name: str, value: str) -> None:
        """``SET VARIABLE name "value"``."""
        safe = value.replace("\\", "\\\\").replace('"', '\\"')
        await self.command(f'SET VARIABLE {name} "{safe}"')

    async def get_variable(self, name: str) -> str | None:
        """``GET VARIABLE name``; None when unset."""
        result, value = await self.command(f"GET VARIABLE {name}")
        return value if result == 1 else None

    async def idle(self, until: asyncio.Future[Any], timeout: float) -> bool:
        """Send nothing until ``until`` is done (True) or ``timeout`` passes (False).

        res_agi reads the channel meanwhile (music on hold plays) and writes ``HANGUP``
        on the socket as soon as the caller hangs up: that line, or the connection
        closing, raises AgiHangup at once.
        """
        if until.done():
            return True
        line = asyncio.ensure_future(self.reader.readline())
        try:
            await asyncio.wait({line, until}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            if not line.done():
                line.cancel()
                # the next command reads this stream: the read must be over first
                with contextlib.suppress(asyncio.CancelledError):
                    await line
        if line.done() and not line.cancelled():
            try:
                raw = line.result()
            except (ValueError, ConnectionError) as exc:
                raise AgiHangup(str(exc)) from exc
            if not raw:
                raise AgiHangup("connection closed")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text == "HANGUP":
                self.hung_up = True
                raise AgiHangup("the caller hung up")
            raise AgiProtocolError(f"unexpected line while idle {text[:80]!r}")
        return until.done()

    async def _line(self) -> str:
        try:
            # asyncio.timeout, not wait_for: no extra task per line (this runs per command).
            async with asyncio.timeout(self.command_timeout):
                raw = await self.reader.readline()
        except TimeoutError:
            raise AgiHangup(f"no answer within {self.command_timeout} s") from None
        except (ValueError, ConnectionError) as exc:
            raise AgiHangup(str(exc)) from exc
        if not raw:
            raise AgiHangup("connection closed")
        return raw.decode("utf-8", "replace").rstrip("\r\n")


Script = Callable[[AgiSession], Awaitable[None]]


async def read_environment(reader: asyncio.StreamReader) -> dict[str, str]:
    """The ``agi_*`` block up to its blank line."""
    env: dict[str, str] = {}
    for _ in range(MAX_ENV_LINES):
        raw = await reader.readline()
        if not raw:
            raise AgiHangup("closed before the end of the AGI environment")
        if not raw.endswith(b"\n"):
            raise AgiProtocolError("line too long in the AGI environment")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            return env
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise AgiProtocolError(f"not an AGI environment line: {line[:60]!r}")
        env[key] = value.strip()
    raise AgiProtocolError(f"more than {MAX_ENV_LINES} lines of AGI environment")


class FastAgiServer:
    """Serves FastAGI scripts by name.

    With ``own_thread`` the server runs in an event loop of its own, on a thread of its
    own: a burst of HTTP requests (thousands parsed on the web server's loop) then never
    stands between Asterisk and a routing answer. The scripts, and what they keep (the
    router's waiting calls), live in that loop; :meth:`call` runs a coroutine there from
    any other loop.
    """

    def __init__(
        self,
        scripts: dict[str, Script],
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        env_timeout: float = 5.0,
        command_timeout: float = 10.0,
        own_thread: bool = False,
    ) -> None:
        self.scripts = scripts
        self.host = host
        self.port = port
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.own_thread = own_thread
        self.dialogues = 0
        self.rejected = 0
        self.hangups = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # where the dialogues run
        self._thread: threading.Thread | None = None
        self._switch_interval = sys.getswitchinterval()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; ``self.port`` is the real port afterwards."""
        if self.own_thread:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run_loop, args=(loop,), name="fastagi", daemon=True
            )
            self._thread.start()
            self.loop = loop
        else:
            self.loop = asyncio.get_running_loop()
        await self.call(self._listen())
        log.info("FastAGI listening on %s:%s", self.host, self.port)

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the dialogues' loop and wait for it from this one."""
        loop = self.loop
        if loop is None or loop is asyncio.get_running_loop() or not loop.is_running():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def stop(self, then: Callable[[], Awaitable[None]] | None = None) -> None:
        """Stop listening and end the dialogues in progress; then run ``then()`` in the
        dialogues' loop (what they kept: the router's held calls) and end that loop."""
        await self.call(self._stop())
        if then is not None:
            await self.call(_awaited(then))
        thread, loop = self._thread, self.loop
        if thread is not None and loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 10)
            self._thread = None
            sys.setswitchinterval(self._switch_interval)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._dialogue(reader, writer)
        except asyncio.CancelledError:
            # stop() ended the dialogue (a held call while callagent stops). Ending
            # quietly: Python 3.11's start_server asks a cancelled handler's task for its
            # exception and logs the CancelledError at ERROR. Nothing awaits this task
            # but stop(), which gathers it anyway.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dialogue(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(self.env_timeout):  # wait_for would cost a task per call
                env = await read_environment(reader)
        except TimeoutError:
            self.rejected += 1
            log.warning(
                "FastAGI client %s sent no complete environment in %.0f s", peer, self.env_timeout
            )
            return
        except AgiHangup:
            return  # a connect-and-close: a health check, nothing to say
        except (AgiProtocolError, ValueError, ConnectionError) as exc:
            self.rejected += 1
            log.warning("FastAGI client %s: %s", peer, exc)
            return
        session = AgiSession(reader, writer, env, self.command_timeout)
        script = self.scripts.get(session.script)
        if script is None:
            self.rejected += 1
            log.warning(
                "FastAGI script %r is unknown; known: %s", session.script, sorted(self.scripts)
            )
            return
        self.dialogues += 1
        try:
            await script(session)
        except AgiHangup as exc:
            self.hangups += 1
            log.info("FastAGI %s ended early: %s", session.script, exc)
        except AgiProtocolError as exc:
            log.warning("FastAGI %s: %s", session.script, exc)


async def _awaited(then: Callable[[], Awaitable[None]]) -> None:
    await then()

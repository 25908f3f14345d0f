"""Load and call a Lambda handler the way the Python Lambda runtime does.

The handler string from the function's ``lambda.toml`` (``module.path.function``) is imported once
(the cold start), and each call gets a fresh context object with the attributes handlers and
Powertools read. As on Lambda, where the function's directory (``/var/task``) comes first, a top-level
package in the function's directory wins; otherwise the handler imports from the platform's path
(the platform's own functions live in ``edp``).

Like Lambda, a "container" runs one invocation at a time: module globals (the handler's cached
clients, Powertools' logger keys and metric set) are never shared by concurrent invocations, which
they are not written for. Concurrency comes from several containers, here worker processes, which
also lets the CPU-bound handler use more than one core. With zero containers the handler runs in
the gateway's own process, one invocation at a time on a worker thread.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import dataclasses
import importlib
import importlib.util
import logging
import multiprocessing
import os
import sys
import time
import tomllib
import uuid
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import anyio

from edp.config import get_config
from edp.config.settings import RESOURCE_PREFIX

Handler = Callable[[dict[str, Any], Any], Any]
log = logging.getLogger("edp_local.gateway")
INGEST_FUNCTION_DIR = Path("include") / "lambda" / "ingest"


def ingest_function_dir() -> Path:
    return get_config().project_root / INGEST_FUNCTION_DIR


# lambda.toml declares code and packaging only (see tools/build_lambda); memory and timeout are
# deployment settings, so the local context uses the deployed defaults.
DEFAULT_MEMORY_MB = 512
DEFAULT_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True)
class FunctionConfig:
    """What the gateway needs to run a function: its directory, handler string and context limits."""

    directory: Path
    handler: str
    function_name: str
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def read(cls, directory: Path | str) -> FunctionConfig:
        """Read the ``handler`` key of ``<directory>/lambda.toml``; the function is named like on AWS."""
        directory = Path(directory).resolve()
        manifest = directory / "lambda.toml"
        with manifest.open("rb") as fh:
            handler = tomllib.load(fh).get("handler")
        if not isinstance(handler, str) or "." not in handler:
            raise ValueError(f"{manifest}: 'handler' must be 'module.function', got {handler!r}")
        return cls(directory=directory, handler=handler, function_name=f"{RESOURCE_PREFIX}-{directory.name}")


@dataclasses.dataclass
class LambdaContext:
    """The subset of ``awslambdaric``'s context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str
    invoked_function_arn: str
    deadline_monotonic: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


def _import_from(directory: Path, module_name: str) -> Any:
    """Import ``module_name``, its top-level package taken from ``directory`` when it is there.

    The package is registered in ``sys.modules`` rather than ``directory`` put on ``sys.path``: the
    process's path stays what it was given, and the package's submodules resolve through its own
    ``__path__``.
    """
    top = module_name.partition(".")[0]
    if top not in sys.modules and (spec := PathFinder.find_spec(top, [str(directory)])) and spec.loader:
        package = importlib.util.module_from_spec(spec)
        sys.modules[top] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[top]
            raise
    return importlib.import_module(module_name)


def load_handler(config: FunctionConfig) -> Handler:
    """Import the handler named by ``config.handler`` (the function's directory first), return it."""
    module_name, _, function_name = config.handler.rpartition(".")
    module = _import_from(config.directory, module_name)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f"{config.handler}: {function_name!r} is not a callable in {module_name}")
    return handler


class LocalFunction:
    """A loaded handler plus what it takes to build each invocation's context."""

    def __init__(self, config: FunctionConfig, *, region: str, account_id: str) -> None:
        self.config = config
        self.handler = load_handler(config)
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{config.function_name}"
        self.log_group = f"/aws/lambda/{config.function_name}"
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.config.function_name,
            memory_limit_in_mb=self.config.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=self.arn,
            deadline_monotonic=time.monotonic() + self.config.timeout_s,
            log_group_name=self.log_group,
            log_stream_name=self.log_stream,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.handler(event, self.context())


class Invoker(abc.ABC):
    """Runs invocations off the event loop; ``await invoke(event)`` returns the handler's result."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the handler now (cold start), so errors surface at start."""

    @abc.abstractmethod
    async def invoke(self, event: dict[str, Any]) -> Any:
        """Run one invocation and return the handler's result."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the containers."""


class InProcessInvoker(Invoker):
    """One container inside the gateway process: invocations one at a time on a worker thread."""

    def __init__(self, config: FunctionConfig, *, region: str, account_id: str) -> None:
        self._args = (config, region, account_id)
        self.function: LocalFunction | None = None
        self._limiter = anyio.CapacityLimiter(1)

    async def start(self) -> None:
        config, region, account_id = self._args
        self.function = LocalFunction(config, region=region, account_id=account_id)

    async def invoke(self, event: dict[str, Any]) -> Any:
        if self.function is None:
            await self.start()
        function: Any = self.function
        return await anyio.to_thread.run_sync(
            function.invoke, event, limiter=self._limiter, abandon_on_cancel=True
        )

    def close(self) -> None:
        self.function = None


_WORKER_FUNCTION: LocalFunction | None = None


def _worker_init(config: FunctionConfig, region: str, account_id: str) -> None:
    global _WORKER_FUNCTION
    _WORKER_FUNCTION = LocalFunction(config, region=region, account_id=account_id)


def _worker_ready() -> int:
    return os.getpid()


def _worker_invoke(event: dict[str, Any]) -> Any:
    if _WORKER_FUNCTION is None:
        raise RuntimeError("worker has no handler loaded")
    return _WORKER_FUNCTION.invoke(event)


class ProcessInvoker(Invoker):
    """``containers`` worker processes, each loading the handler once and running one invocation at a time.

    A container that dies (a crash, the OOM killer) fails the invocations it held, and the pool is
    replaced, as Lambda replaces a dead execution environment.
    """

    def __init__(self, config: FunctionConfig, *, containers: int, region: str, account_id: str) -> None:
        if containers < 1:
            raise ValueError("containers must be >= 1")
        self.containers = containers
        self._initargs = (config, region, account_id)
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the gateway process has an event loop and threads a fork would copy
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.containers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=self._initargs,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _worker_ready) for _ in range(self.containers))
        )

    async def invoke(self, event: dict[str, Any]) -> Any:
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _worker_invoke, event)
        except BrokenProcessPool:
            if pool is self._pool:  # the first failed caller replaces it
                log.error("a handler container died; starting new containers")
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_invoker(config: FunctionConfig, *, containers: int, region: str, account_id: str) -> Invoker:
    if containers == 0:
        return InProcessInvoker(config, region=region, account_id=account_id)
    return ProcessInvoker(config, containers=containers, region=region, account_id=account_id)

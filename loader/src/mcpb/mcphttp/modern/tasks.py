"""The tasks extension (``io.modelcontextprotocol/tasks``): a long ``tools/call`` answered with a
task handle, its outcome fetched with ``tasks/get``, its questions answered with ``tasks/update``.

The server behind the transport knows nothing of tasks, so the transport makes them: the call of
a client that declared the extension becomes a task once it has run for a while without
finishing or asking its client anything (:class:`~mcpb.mcphttp.modern.call.ModernCall` decides
when; its ``CreateTaskResult`` ends the HTTP request while the server's request goes on). What
the server says about the call afterwards lands in its :class:`Task`: a question makes it
``input_required``, its answer completes it (a tool error included) or fails it (a JSON-RPC
error). Tasks live in this process, under unguessable ids, for ``ttl_ms`` from their creation,
at most ``limit`` at once, each bound to the principal the layer above named. The outcomes
kept are bounded in bytes, each and together: to keep a new one, the oldest finished tasks are
forgotten first; an outcome that still finds no room fails its task.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.jsonrpc import Message

log = logging.getLogger("mcpb.http")

EXTENSION = "io.modelcontextprotocol/tasks"
#: The methods of the extension (``tasks/result`` and ``tasks/list`` of 2025 are gone).
METHODS = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
TERMINAL = frozenset({"completed", "failed", "cancelled"})
#: The notification a task's watchers get on each change of status.
STATUS = "notifications/tasks"
#: What clients are told to wait between two ``tasks/get``.
POLL_INTERVAL_MS = 500
#: How long a call of a tool that declares task support (``execution.taskSupport``) runs
#: before it becomes a task: long enough for a fast answer, or a first question asked as an
#: ``input_required`` result, to go out as such.
DECLARED_AFTER = 0.25
#: ``error.data`` of the -32021 refusals: what the client must declare.
REQUIRED: dict[str, Any] = {"requiredCapabilities": {"extensions": {EXTENSION: {}}}}


class Work(Protocol):
    """What a task needs of the call doing its work (a
    :class:`~mcpb.mcphttp.modern.call.ModernCall`)."""

    @property
    def principal(self) -> Any:
        """Who made the call (only they may see its task)."""

    def input_requests(self) -> dict[str, Message]:
        """The server's questions not answered yet, by key."""

    def answer_task(self, responses: dict[str, Any]) -> None:
        """Answer the questions ``responses`` names."""

    def cancel(self, reason: str) -> None:
        """Cancel the request in the server; the task becomes cancelled."""


class Watcher(Protocol):
    """A listen stream that asked for a task's status notifications."""

    def put(self, payload: bytes, *, always: bool = False) -> bool:
        """Queue an encoded notification (False: it could not)."""


def missing_extension(rpc_id: Any, what: str) -> HTTPError:
    """400 -32021: ``what`` needs a client that declared the extension in this request."""
    text = f"{what} needs the {EXTENSION} extension declared in this request's capabilities"
    return HTTPError(
        400, text, rpc_id=rpc_id, code=jsonrpc.MISSING_CLIENT_CAPABILITY, data=REQUIRED
    )


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Task:
    """One task: its status, and the outcome once there is one (``call`` does the work)."""

    __slots__ = (
        "call",
        "created_at",
        "error",
        "expires",
        "kept",
        "principal",
        "result",
        "status",
        "status_message",
        "task_id",
        "ttl_ms",
        "updated_at",
        "watchers",
    )

    def __init__(self, task_id: str, call: Work, principal: Any, ttl_ms: int) -> None:
        self.task_id = task_id
        self.call = call
        self.principal = principal
        self.ttl_ms = ttl_ms
        self.expires = time.monotonic() + ttl_ms / 1000
        self.created_at = self.updated_at = _timestamp()
        self.status = "working"
        self.status_message: str | None = None
        self.result: Message | None = None
        self.error: Message | None = None
        #: Bytes of its outcome counted against the table's budget.
        self.kept = 0
        self.watchers: set[Watcher] = set()

    @property
    def terminal(self) -> bool:
        """Completed, failed or cancelled: nothing changes any more."""
        return self.status in TERMINAL

    def fields(self) -> Message:
        """The ``Task`` fields (what a ``CreateTaskResult`` carries)."""
        fields: Message = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.updated_at,
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": POLL_INTERVAL_MS,
        }
        if self.status_message is not None:
            fields["statusMessage"] = self.status_message
        return fields

    def detailed(self) -> Message:
        """The ``DetailedTask``: the fields plus what the status carries."""
        detailed = self.fields()
        if self.status == "input_required":
            detailed["inputRequests"] = self.call.input_requests()
        elif self.status == "completed":
            detailed["result"] = self.result
        elif self.status == "failed":
            detailed["error"] = self.error
        return detailed

    def move(
        self,
        status: str,
        *,
        result: Message | None = None,
        error: Message | None = None,
        message: str | None = None,
    ) -> None:
        """Change status (a terminal task keeps its first outcome) and tell the watchers."""
        if self.terminal:
            return
        self.status = status
        self.result = result
        self.error = error
        self.status_message = message
        self.updated_at = _timestamp()
        if self.watchers:
            self.notify()

    def notify(self) -> None:
        """Send the task as it is now to every listen stream watching it."""
        notification = {"jsonrpc": "2.0", "method": STATUS, "params": self.detailed()}
        payload = jsonrpc.dumps(notification)
        for watcher in list(self.watchers):
            watcher.put(payload)


class TaskTable:
    """The tasks of one endpoint, by id; expired ones go first when a task is made or looked up."""

    def __init__(self, limit: int, ttl_ms: int, max_result: int, budget: int) -> None:
        self._limit = limit
        self._ttl_ms = ttl_ms
        #: A result larger than this (encoded) fails its task instead of being kept.
        self.max_result = min(max_result, budget)
        #: The bytes all kept outcomes may take together.
        self._budget = budget
        self._kept = 0
        self._tasks: dict[str, Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def create(self, call: Work) -> Task | None:
        """A new task for ``call`` (None when ``limit`` tasks exist: the call stays a call)."""
        self._expire()
        if len(self._tasks) >= self._limit:
            log.warning("%d tasks exist already: a long call stays synchronous", self._limit)
            return None
        task = Task(secrets.token_urlsafe(24), call, call.principal, self._ttl_ms)
        self._tasks[task.task_id] = task
        return task

    def get(self, task_id: Any, principal: Any) -> Task | None:
        """The task ``task_id`` names for ``principal`` (another principal's is not found
        either: ids are not for sharing)."""
        self._expire()
        task = self._tasks.get(task_id) if isinstance(task_id, str) else None
        return task if task is not None and task.principal == principal else None

    def find(self, task_id: Any, principal: Any, rpc_id: Any) -> Task:
        """:meth:`get`, or 400 -32602 when there is no such task."""
        task = self.get(task_id, principal)
        if task is None:
            raise HTTPError(
                400,
                f"Failed to retrieve task: no task {task_id!r} (unknown or expired)",
                rpc_id=rpc_id,
                code=jsonrpc.INVALID_PARAMS,
            )
        return task

    def keep(self, task: Task, size: int) -> bool:
        """Make room for ``task``'s outcome of ``size`` bytes, forgetting the oldest finished
        tasks if need be; False when there is none (the outcome is too large, or the room is
        taken by outcomes of tasks still running)."""
        if size > self.max_result:
            return False
        while self._kept + size > self._budget:
            oldest = next((t for t in self._tasks.values() if t.terminal and t.kept), None)
            if oldest is None:
                return False
            log.info("task results fill %d bytes: forgot the oldest finished task", self._kept)
            self._drop(oldest)
        task.kept = size
        self._kept += size
        return True

    def close(self) -> None:
        """Cancel every task still running (shutdown)."""
        for task in self._tasks.values():
            if not task.terminal:
                task.call.cancel("the server is shutting down")

    def _expire(self) -> None:
        """Drop the tasks past their TTL (all share one, so the oldest go first)."""
        now = time.monotonic()
        while self._tasks:
            task = next(iter(self._tasks.values()))
            if task.expires > now:
                return
            self._drop(task)
            if not task.terminal:
                task.call.cancel("the task's TTL elapsed")

    def _drop(self, task: Task) -> None:
        del self._tasks[task.task_id]
        self._kept -= task.kept

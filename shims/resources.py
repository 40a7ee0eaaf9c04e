"""Request-scoped resources opened outside the request that would have opened them.

A legacy lookup may read a resource the framework opens per request: a FastAPI dependency
such as ``def get_db(): conn = connect(); try: yield conn; finally: conn.close()``. The
gate keeps its first lookup for introspection and other out-of-request uses, so a lookup
that closed over the first request's connection would run on a closed one there and every
token would look unknown. The migrated gate passes a :class:`RequestLookup`: in its request
it reads the request's own resource (no second connection per request); what the gate
keeps is its :meth:`~RequestLookup.detached` form, which opens each dependency itself the
way FastAPI does: a generator is entered and finished (its code after ``yield`` runs, as
after a request), a plain function is called.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable
from typing import Any, cast


class RequestLookup:
    """``use(token, **resources)`` with the request's resources, or opened afresh."""

    def __init__(self, use: Callable[..., Any], resources: dict[str, tuple[Any, Any]]) -> None:
        self.use = use
        self.resources = resources  # name -> (the request's value, the dependency giving it)

    def __call__(self, token: Any) -> Any:
        return self.use(token, **{name: value for name, (value, _) in self.resources.items()})

    def detached(self, token: Any) -> Any:
        """The lookup outside the request: each dependency opened around it."""
        return self._opening(list(self.resources.items()), {}, token)

    def _opening(
        self, pending: list[tuple[str, tuple[Any, Any]]], opened: dict[str, Any], token: Any
    ) -> Any:
        if not pending:
            return self.use(token, **opened)
        (name, (_, dependency)), rest = pending[0], pending[1:]
        return with_dependency(
            dependency, lambda resource: self._opening(rest, {**opened, name: resource}, token)
        )


def request_lookup(use: Callable[..., Any], **resources: tuple[Any, Any]) -> RequestLookup:
    """The migrated gate's lookup: ``resources`` maps each of ``use``'s keyword parameters
    to ``(the request's value, the dependency that opens one)``."""
    return RequestLookup(use, resources)


def out_of_request(lookup: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """What the gate keeps of a lookup for uses outside its request."""
    return lookup.detached if isinstance(lookup, RequestLookup) else lookup


def with_dependency(dependency: Any, use: Callable[[Any], Any]) -> Any:
    """``use(resource)`` with the resource ``dependency`` gives, opened and closed around
    it; an awaitable ``use`` (or an async-generator dependency) gives an awaitable.
    ``dependency`` may be an ``Annotated[T, Depends(f)]`` alias: ``f`` is opened."""
    dependency = _declared(dependency)
    if inspect.isasyncgenfunction(dependency):
        return _async_use(contextlib.asynccontextmanager(dependency), use)
    if not inspect.isgeneratorfunction(dependency):
        return use(dependency())
    opened = contextlib.contextmanager(dependency)()
    resource = opened.__enter__()
    try:
        result = use(resource)
    except BaseException as exc:
        if not opened.__exit__(type(exc), exc, exc.__traceback__):
            raise
        return None
    if inspect.isawaitable(result):
        return _finish_later(opened, result)
    opened.__exit__(None, None, None)
    return result


def _declared(dependency: Any) -> Callable[[], Any]:
    """The function an ``Annotated`` alias's ``Depends(...)`` marker names, else itself."""
    if typing.get_origin(dependency) is typing.Annotated:
        for marker in typing.get_args(dependency)[1:]:
            inner = getattr(marker, "dependency", None)
            if callable(inner):
                return cast(Callable[[], Any], inner)
        raise TypeError(f"no Depends(...) in {dependency!r}")
    return cast(Callable[[], Any], dependency)


async def _finish_later(opened: contextlib.AbstractContextManager[Any], pending: Any) -> Any:
    """Await the lookup, then close the resource it reads (already entered)."""
    try:
        result = await pending
    except BaseException as exc:
        if not opened.__exit__(type(exc), exc, exc.__traceback__):
            raise
        return None
    opened.__exit__(None, None, None)
    return result


async def _async_use(
    factory: Callable[[], contextlib.AbstractAsyncContextManager[Any]], use: Callable[[Any], Any]
) -> Any:
    async with factory() as resource:
        result = use(resource)
        return await result if inspect.isawaitable(result) else result

"""Request-scoped resources opened outside the request that would have opened them.

A legacy lookup may read a resource the framework opens per request: a FastAPI dependency
such as ``def get_db(): conn = connect(); try: yield conn; finally: conn.close()``. The
gate keeps its first lookup for introspection and other out-of-request uses, so a lookup
that closed over the first request's connection would run on a closed one there and every
token would look unknown. The migrated lookup opens the dependency itself, each time, the
way FastAPI does: a generator is entered and finished (its code after ``yield`` runs, as
after a request), a plain function is called.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable
from typing import Any, cast


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

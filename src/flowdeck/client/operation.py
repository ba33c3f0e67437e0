"""An API call described once, as data, and run by either client.

Each method of `Operations` (api.py) builds an `Operation`: method, path, query,
body, and how to parse the answer into a typed result. It does no I/O. The
`@call` and `@stream` decorators turn such a method into a method of `Client`
(returns the result) and of `AsyncClient` (returns an awaitable of it): the two
clients only send the request their own way.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import httpx
from pydantic import TypeAdapter, ValidationError

from flowdeck.client.errors import UnexpectedResponseError, api_error
from flowdeck.client.sse import ServerSentEvent, SseDecoder

if TYPE_CHECKING:
    from flowdeck.client.aio import AsyncClient
    from flowdeck.client.sync import Client

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One request, and how its successful answer becomes a `T`."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    content: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None  # None: the client's default

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The HTTP request, built on `http` (its base URL, headers and timeouts)."""
        params = {key: value for key, value in self.params.items() if value is not None}
        return http.build_request(
            self.method,
            self.path,
            params=params,
            json=self.json,
            content=self.content,
            headers=dict(self.headers),
            timeout=self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )

    def check(self, response: httpx.Response) -> None:
        """Raise the API's error when the (read) response is one."""
        if response.status_code >= 400:
            raise api_error(response)

    def finish(self, response: httpx.Response) -> T:
        """The result of a read response; the API's error when it is one."""
        self.check(response)
        try:
            return self.parse(response)
        except (ValueError, ValidationError) as exc:
            raise UnexpectedResponseError(
                f"{response.request.url} answered {response.status_code} with something that is "
                f"not what the Flowdeck API returns: {str(exc)[:200]}"
            ) from None


@dataclass(frozen=True)
class StreamOperation(Generic[E]):
    """A request answered by server-sent events, each parsed into an `E` (or skipped: None)."""

    operation: Operation[None]
    parse_event: Callable[[ServerSentEvent], E | None]

    def reader(self) -> EventReader[E]:
        """A fresh reader for one stream of this operation."""
        return EventReader(self.parse_event)


class EventReader(Generic[E]):
    """Lines of one event stream in, parsed events out (the drivers feed it)."""

    def __init__(self, parse_event: Callable[[ServerSentEvent], E | None]) -> None:
        self._decoder = SseDecoder()
        self._parse = parse_event

    def feed(self, line: str) -> E | None:
        """The event this line completes, if any."""
        event = self._decoder.feed(line)
        return self._parse(event) if event is not None else None

    def end(self) -> E | None:
        """The last event, when the stream ended without a blank line after it."""
        event = self._decoder.flush()
        return self._parse(event) if event is not None else None


def model(kind: type[T] | Any) -> Callable[[httpx.Response], T]:
    """A parser of a JSON answer into `kind` (a model, `list[Model]`, `Page[Model]`...)."""
    adapter: TypeAdapter[T] = TypeAdapter(kind)
    return lambda response: adapter.validate_json(response.content)


def nothing(response: httpx.Response) -> None:  # noqa: ARG001 (a parser: 204 has no body)
    return None


def text(response: httpx.Response) -> str:
    return response.text


class call(Generic[P, T]):
    """Decorator: the method builds an `Operation[T]`; on a client it sends it."""

    def __init__(self, build: Callable[Concatenate[Any, P], Operation[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build

        def operation(*args: Any, **kwargs: Any) -> Operation[Any]:
            return build(obj, *args, **kwargs)

        return functools.wraps(build)(obj.bind_call(operation))


class stream(Generic[P, E]):
    """Decorator: the method builds a `StreamOperation[E]`; on a client it iterates the
    events (`for` on `Client`, `async for` on `AsyncClient`)."""

    def __init__(self, build: Callable[Concatenate[Any, P], StreamOperation[E]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, Iterator[E]]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type[Any]) -> Callable[P, AsyncIterator[E]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build

        def operation(*args: Any, **kwargs: Any) -> StreamOperation[Any]:
            return build(obj, *args, **kwargs)

        return functools.wraps(build)(obj.bind_stream(operation))

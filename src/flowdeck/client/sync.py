"""`Client`: the API over a blocking httpx.Client. Its operations come from `Operations`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from flowdeck.client.api import Operations
from flowdeck.client.config import connect_options
from flowdeck.client.errors import FlowdeckConnectionError
from flowdeck.client.models import Page
from flowdeck.client.operation import Operation, StreamOperation

T = TypeVar("T")
E = TypeVar("E")
Item = TypeVar("Item")


class Client(Operations):
    """A Flowdeck server, called from blocking code::

        with Client() as flowdeck:              # FLOWDECK_URL/TOKEN, or `flowdeck login`
            for template in flowdeck.list_templates().items: ...

    `url` and `token` override the environment and the config file. Without a token
    it raises ConfigError, unless `anonymous` (only `login` works then). API errors
    raise FlowdeckApiError; an unreachable server FlowdeckConnectionError.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        config_path: Path | None = None,
        anonymous: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config, options = connect_options(url, token, config_path, anonymous, timeout)
        self._http = httpx.Client(
            base_url=options.base_url,
            headers=options.headers,
            timeout=options.timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def send(self, operation: Operation[T]) -> T:
        """Run one operation and return its result."""
        try:
            response = self._http.send(operation.request(self._http))
        except httpx.TransportError as exc:
            raise FlowdeckConnectionError(self.config.url, exc) from exc
        return operation.finish(response)

    def iterate(self, operation: StreamOperation[E]) -> Iterator[E]:
        """Run a streaming operation and yield its events as they come."""
        try:
            request = operation.operation.request(self._http)
            response = self._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    response.read()
                    operation.operation.check(response)
                reader = operation.reader()
                for line in response.iter_lines():
                    if (event := reader.feed(line)) is not None:
                        yield event
                if (event := reader.end()) is not None:
                    yield event
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise FlowdeckConnectionError(self.config.url, exc) from exc

    def bind_call(self, build: Callable[..., Operation[T]]) -> Callable[..., T]:
        return lambda *args, **kwargs: self.send(build(*args, **kwargs))

    def bind_stream(self, build: Callable[..., StreamOperation[E]]) -> Callable[..., Iterator[E]]:
        return lambda *args, **kwargs: self.iterate(build(*args, **kwargs))

    def all(self, list_page: Callable[..., Page[Item]], /, **filters: Any) -> Iterator[Item]:
        """Every item of a list, page after page: `client.all(client.list_workflows)`."""
        cursor: str | None = None
        while True:
            page = list_page(**filters, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

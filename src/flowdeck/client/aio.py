"""`AsyncClient`: the API over httpx.AsyncClient. Its operations come from `Operations`,
the same ones `Client` runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
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


class AsyncClient(Operations):
    """A Flowdeck server, called from asyncio code::

        async with AsyncClient() as flowdeck:
            page = await flowdeck.list_templates()
            async for event in flowdeck.events(execution.id): ...

    Settings and errors as for `Client`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        config_path: Path | None = None,
        anonymous: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config, options = connect_options(url, token, config_path, anonymous, timeout)
        self._http = httpx.AsyncClient(
            base_url=options.base_url,
            headers=options.headers,
            timeout=options.timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def send(self, operation: Operation[T]) -> T:
        """Run one operation and return its result."""
        try:
            response = await self._http.send(operation.request(self._http))
        except httpx.TransportError as exc:
            raise FlowdeckConnectionError(self.config.url, exc) from exc
        return operation.finish(response)

    async def iterate(self, operation: StreamOperation[E]) -> AsyncIterator[E]:
        """Run a streaming operation and yield its events as they come."""
        try:
            request = operation.operation.request(self._http)
            response = await self._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    await response.aread()
                    operation.operation.check(response)
                reader = operation.reader()
                async for line in response.aiter_lines():
                    if (event := reader.feed(line)) is not None:
                        yield event
                if (event := reader.end()) is not None:
                    yield event
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise FlowdeckConnectionError(self.config.url, exc) from exc

    def bind_call(
        self, build: Callable[..., Operation[T]]
    ) -> Callable[..., Coroutine[Any, Any, T]]:
        return lambda *args, **kwargs: self.send(build(*args, **kwargs))

    def bind_stream(
        self, build: Callable[..., StreamOperation[E]]
    ) -> Callable[..., AsyncIterator[E]]:
        return lambda *args, **kwargs: self.iterate(build(*args, **kwargs))

    async def all(
        self, list_page: Callable[..., Coroutine[Any, Any, Page[Item]]], /, **filters: Any
    ) -> AsyncIterator[Item]:
        """Every item of a list, page after page: `client.all(client.list_workflows)`."""
        cursor: str | None = None
        while True:
            page = await list_page(**filters, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

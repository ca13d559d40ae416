"""python-telegram-bot's network layer on aiohttp instead of httpx.

python-telegram-bot lets the transport be replaced (`BaseRequest`); this one speaks aiohttp,
which the bot already runs for its server and Slack. Measured on this machine (400 sends
at once to a loopback Bot API, client and server in one process): 4.2-4.7 ms of CPU a
message through httpx, 0.7-0.9 ms through aiohttp, whose HTTP parsing is compiled. A
message a bot sends is one such call, so under load that is a third of the CPU a chat
message costs `crmbot serve`.

Same contract as python-telegram-bot's HTTPXRequest, but for the body: the Bot API takes a
call's fields as a JSON object as well as form fields, and the same strings as JSON cost a
tenth of their form encoding through aiohttp (7 against 69 µs for a reply with buttons,
measured), so a call without a file sends JSON; multipart when a file is sent. The same
default timeouts (a longer write timeout for files); a timeout raises `TimedOut`, any other
failure `NetworkError` (both retried by RetryingRequest).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp.payload import BytesPayload
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
POOL_SIZE = 256


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        pool_size: int = POOL_SIZE,
        read_timeout: float = TIMEOUT,
        write_timeout: float = TIMEOUT,
        connect_timeout: float = TIMEOUT,
        media_write_timeout: float = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self.pool_size = pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = bool(request_data and request_data.contains_files)
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        # aiohttp has no write timeout of its own: the body is written within the total.
        timeout = aiohttp.ClientTimeout(
            total=None if read is None or write is None else read + write,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _body(request_data: RequestData | None) -> aiohttp.FormData | BytesPayload | None:
    """The fields as one JSON object (each the string a form field would carry: the Bot
    API reads a JSON body's strings as it reads form fields), or multipart with the files."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        fields = json.dumps(request_data.json_parameters).encode()
        return BytesPayload(fields, content_type="application/json")
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form

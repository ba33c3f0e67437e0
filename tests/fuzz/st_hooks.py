"""Schemathesis hooks for the fuzz run (loaded by `schemathesis run` via SCHEMATHESIS_HOOKS).

Authentication: the fuzzer exercises `DELETE /api/tokens/{id}` too, and in the
stateful phase it finds and revokes the very token it is using (it lists tokens and
deletes what it finds, as a user may). A fixed `-H Authorization` header would then
make every later request a 401, and the run would test nothing. So a token is minted
straight in the database for the account named by FUZZ_EMAIL, and minted
again whenever an answer is 401 (Schemathesis' `retry_on`, default [401]).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

import schemathesis
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.users import service


async def _mint(database_url: str, email: str) -> str:
    async with await AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        user = await service.user_by_email(conn, email)
        issued = await service.create_token(conn, user, f"fuzz-{secrets.token_hex(3)}")
        return issued.token


@schemathesis.auth(refresh_interval=3600)
class FreshToken:
    """A token of the fuzzing account, minted again after any 401."""

    def get(self, case: Any, context: Any) -> str:  # noqa: ARG002 (the provider's API)
        return asyncio.run(_mint(os.environ["FUZZ_DATABASE_URL"], os.environ["FUZZ_EMAIL"]))

    def set(self, case: Any, data: str, context: Any) -> None:  # noqa: ARG002 (idem)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

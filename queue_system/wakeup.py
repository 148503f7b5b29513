"""An idle worker's wait for work, with its claim queued right behind the wait on the same connection.

An idle worker blocks on its queues' wake lists (BLPOP) and an enqueue pushes a token there. The claim script
(lua/claim.lua) is sent in the same pipeline, behind the BLPOP: Redis does not read a blocked client's next
command until the block ends, so it runs the claim the moment a token arrives -- or when the wait times out.
A new job is thus leased in the round trip that delivers its wake-up (pickup costs one round trip after the
enqueue, not two), and the idle look for jobs that plain-arq producers wrote without a token is the same call.

The call keeps one connection of the blocking client for itself and writes both commands on it directly, rather
than through a redis-py pipeline: the pipeline's object, pool hand-off and retry wrapper cost about 40 us of CPU per
wait, part of it between the wake-up and the job's start. Any failure drops the connection (it may hold a reply
not read yet) and raises; the listener backs off and the next call connects again (to the new primary, under
Sentinel).

Because the claim runs later than it was written, its time says so (``sent_at``: claim.lua reads Redis's clock
once it finds work), and it asks for as many jobs as slots were free when it was sent; the worker gives back,
untried, what it can no longer start (its slots filled meanwhile, or it began to stop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError


def sent_at(now_ms: int) -> str:
    """claim.lua's time argument for a claim that runs later than ``now_ms``."""
    return f"~{now_ms}"


class WakeAndClaim:
    """The blocking connection's one call: wait for a wake-up token, then claim (lua/claim.lua)."""

    def __init__(self, redis: Any, claim_script: Any) -> None:
        self.redis = redis
        self.claim_script = claim_script
        self._connection: Any = None

    async def __call__(
        self, wake_keys: Sequence[str], timeout_s: float, claim_keys: Sequence[str], claim_args: Sequence[Any]
    ) -> list[Any]:
        """Block up to ``timeout_s`` for a token, then claim; returns claim.lua's answer."""
        connection = self._connection
        if connection is None:
            connection = self._connection = await self.redis.connection_pool.get_connection()
        commands = [
            ("BLPOP", *wake_keys, timeout_s),
            ("EVALSHA", self.claim_script.sha, len(claim_keys), *claim_keys, *claim_args),
        ]
        try:
            await connection.send_packed_command(connection.pack_commands(commands))
            await connection.read_response()  # the token, or nil when the wait timed out
            try:
                answer = await connection.read_response()
            except NoScriptError:  # Redis restarted or flushed its scripts: the script object loads it again
                answer = await self.claim_script(keys=list(claim_keys), args=list(claim_args), client=self.redis)
        except BaseException:  # a reply may be left unread: this connection is done
            self._connection = None
            await connection.disconnect(nowait=True)
            await self.redis.connection_pool.release(connection)
            raise
        return list(answer)

    async def close(self) -> None:
        """Give the connection back to its pool (closed with the client)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.redis.connection_pool.release(connection)

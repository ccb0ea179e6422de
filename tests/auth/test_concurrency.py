"""Concurrent use of one refresh token: exactly one request wins."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from auth_service.main import create_app

from tests.auth.conftest import PASSWORD, new_email

RACERS = 8


async def _race(settings, rounds: int) -> list[list[int]]:
    app = create_app(settings)
    outcomes: list[list[int]] = []
    async with app.router.lifespan_context(app):
        await app.state.pool.open(wait=True)  # every racer gets its own live connection
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as http:
            email = new_email()
            response = await http.post("/v1/users", json={"email": email, "password": PASSWORD})
            assert response.status_code == 201
            for _ in range(rounds):
                response = await http.post(
                    "/v1/token",
                    json={"grant_type": "password", "email": email, "password": PASSWORD},
                )
                token = response.json()["refresh_token"]
                responses = await asyncio.gather(
                    *(
                        http.post("/v1/token/refresh", json={"refresh_token": token})
                        for _ in range(RACERS)
                    )
                )
                outcomes.append(sorted(r.status_code for r in responses))
    return outcomes


def test_simultaneous_refreshes_of_one_token_have_exactly_one_winner(settings_factory):
    settings = settings_factory(db_pool_min_size=RACERS, db_pool_max_size=RACERS)
    outcomes = asyncio.run(_race(settings, rounds=5))
    assert outcomes == [[200] + [401] * (RACERS - 1)] * 5


@pytest.mark.parametrize("racers", [2])
def test_two_refreshes_at_once_one_wins_and_the_family_is_revoked(settings_factory, racers):
    """The loser looks like a replay, so the whole family (winner's new token too) is revoked."""

    async def scenario() -> tuple[list[int], int]:
        app = create_app(settings_factory(db_pool_min_size=racers, db_pool_max_size=racers))
        async with app.router.lifespan_context(app):
            await app.state.pool.open(wait=True)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://auth") as http:
                email = new_email()
                await http.post("/v1/users", json={"email": email, "password": PASSWORD})
                login = await http.post(
                    "/v1/token",
                    json={"grant_type": "password", "email": email, "password": PASSWORD},
                )
                token = login.json()["refresh_token"]
                first, second = await asyncio.gather(
                    http.post("/v1/token/refresh", json={"refresh_token": token}),
                    http.post("/v1/token/refresh", json={"refresh_token": token}),
                )
                winner = first if first.status_code == 200 else second
                follow_up = await http.post(
                    "/v1/token/refresh",
                    json={"refresh_token": winner.json()["refresh_token"]},
                )
                return sorted([first.status_code, second.status_code]), follow_up.status_code

    statuses, follow_up = asyncio.run(scenario())
    assert statuses == [200, 401]
    assert follow_up == 401

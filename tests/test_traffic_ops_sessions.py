"""Traffic Ops sessions as api.GetUserFromReq and tocookie treat them: lifetimes on the wall
clock (a fake one here), the cookie each call sets, which credential a request is judged by,
and credentials expired or forgotten on purpose."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import jwt
import pytest

from emulator.apis.traffic_ops import TrafficOps

from .conftest import MakeClient
from .helpers import Client, runtime_of

WALL = 1_900_000_000  # the fake wall clock's start: 2030-03-17T17:46:40Z
STATUS = "/api/4.0/async_status/1"
EXPIRED = "signature expired - unauthorized, please log in"


class WallClock:
    """A wall clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall(client: Client) -> WallClock:
    clock = WallClock(WALL)
    runtime_of(client).wall_clock = clock
    return clock


def alert(text: str, level: str = "error") -> bytes:
    return (
        json.dumps({"alerts": [{"text": text, "level": level}]}, separators=(",", ":")).encode()
        + b"\n"
    )


async def login(client: Client, user: str = "admin", password: str = "twelve12") -> dict[str, str]:
    """The session cookies a login hands out, by name (the client's jar is left empty, so
    each test sends exactly the Cookie header it means to)."""
    response = await client.post("/api/4.0/user/login", json={"u": user, "p": password})
    assert response.status == 200, await response.text()
    client.session.cookie_jar.clear()
    return {name: morsel.value for name, morsel in response.cookies.items()}


async def get(client: Client, headers: dict[str, str], path: str = STATUS) -> Any:
    client.session.cookie_jar.clear()
    response = await client.get(path, headers=headers)
    await response.read()
    return response


def set_cookies(response: Any) -> dict[str, str]:
    """Each Set-Cookie of `response` by cookie name, value and attributes as sent."""
    return {
        h.partition("=")[0]: h.partition("=")[2] for h in response.headers.getall("Set-Cookie", [])
    }


def http_date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, tz=UTC), usegmt=True)


async def test_a_login_hands_out_six_hours_of_wall_time(client: Client, wall: WallClock) -> None:
    wall.now = WALL + 0.75  # Go takes whole seconds of the expiry, down
    response = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    assert await response.read() == alert("Successfully logged in.", "success")
    sent = set_cookies(response)
    attributes = f"; Path=/; Expires={http_date(WALL + 21600)}; Max-Age=21600; HttpOnly"
    cookie, _, rest = sent["mojolicious"].partition(";")
    assert "; " + rest.lstrip() == attributes
    payload = json.loads(base64.urlsafe_b64decode(cookie.split("--")[0] + "=="))
    assert payload == {
        "auth_data": "admin",
        "expires": WALL + 21600,
        "by": "trafficcontrol-go-tocookie",
    }
    token, _, rest = sent["access_token"].partition(";")
    assert "; " + rest.lstrip() == attributes
    assert jwt.decode(token, options={"verify_signature": False}) == {
        "exp": WALL + 21600,
        "mojoCookie": cookie,
    }


async def test_a_call_with_the_session_cookie_sets_a_new_one_for_an_hour(
    client: Client, wall: WallClock
) -> None:
    cookies = await login(client)
    wall.now = WALL + 100
    response = await get(client, {"Cookie": f"mojolicious={cookies['mojolicious']}"})
    assert response.status == 200
    sent = set_cookies(response)
    assert list(sent) == ["mojolicious"]  # no access_token: the call did not come with one
    assert sent["mojolicious"].endswith(
        f"; Path=/; Expires={http_date(WALL + 3700)}; Max-Age=3600; HttpOnly"
    )


async def test_a_session_lasts_while_calls_come_within_the_hour(
    client: Client, wall: WallClock
) -> None:
    cookies = await login(client)
    wall.now = WALL + 21600  # the login cookie's last second
    response = await get(client, {"Cookie": f"mojolicious={cookies['mojolicious']}"})
    assert response.status == 200
    fresh = set_cookies(response)["mojolicious"].partition(";")[0]
    wall.now = WALL + 21601
    response = await get(client, {"Cookie": f"mojolicious={cookies['mojolicious']}"})
    assert (response.status, await response.read()) == (401, alert(EXPIRED))
    assert "Set-Cookie" not in response.headers
    wall.now = WALL + 21600 + 3600  # the fresh cookie's last second
    assert (await get(client, {"Cookie": f"mojolicious={fresh}"})).status == 200
    wall.now = WALL + 21600 + 3601
    assert (await get(client, {"Cookie": f"mojolicious={fresh}"})).status == 401


async def test_moving_the_emulator_clock_expires_no_session(
    client: Client, wall: WallClock
) -> None:
    cookies = await login(client)
    await client.post("/_emulator/clock/advance", json={"seconds": 30 * 86400})
    assert (await get(client, {"Cookie": f"mojolicious={cookies['mojolicious']}"})).status == 200


async def test_an_access_token_comes_back_but_its_session_ends_with_the_login(
    client: Client, wall: WallClock
) -> None:
    cookies = await login(client)
    token = cookies["access_token"]
    wall.now = WALL + 3 * 3600
    response = await get(client, {"Cookie": f"access_token={token}"})
    assert response.status == 200
    sent = set_cookies(response)
    hour = f"; Path=/; Expires={http_date(WALL + 3 * 3600 + 3600)}; Max-Age=3600; HttpOnly"
    assert sent["access_token"] == token + hour  # the same token, the new cookie's lifetime
    assert sent["mojolicious"].endswith(hour)
    wall.now = WALL + 21601  # the token still carries the login's cookie
    response = await get(client, {"Cookie": f"access_token={token}"})
    assert (response.status, await response.read()) == (401, alert(EXPIRED))


async def test_a_bearer_call_gets_the_access_token_cookie_too(
    client: Client, wall: WallClock
) -> None:
    token = (await login(client))["access_token"]
    response = await get(client, {"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert set_cookies(response)["access_token"].partition(";")[0] == token
    # The token is the second word of the header, as strings.Split(header, " ") gives it.
    assert (await get(client, {"Authorization": f"Bearer  {token}"})).status == 401
    assert (await get(client, {"Authorization": f"Bearer {token} more"})).status == 200


async def test_the_first_session_cookie_of_the_header_is_the_one_used(
    client: Client, wall: WallClock
) -> None:
    reader = (await login(client, "readonly"))["mojolicious"]
    admin = (await login(client))["access_token"]
    assert (
        await get(client, {"Cookie": f"mojolicious={reader}; access_token={admin}"})
    ).status == 403
    assert (
        await get(client, {"Cookie": f"access_token={admin}; mojolicious={reader}"})
    ).status == 200
    assert (
        await get(client, {"Cookie": f"other=1; mojolicious={reader}; access_token={admin}"})
    ).status == 403
    # First even when it is no good; a value net/http cannot read is passed over.
    response = await get(client, {"Cookie": f"access_token=garbage; mojolicious={reader}"})
    assert (response.status, await response.read()) == (401, alert("unauthorized, please log in."))
    assert (await get(client, {"Cookie": f"mojolicious=a\\b; access_token={admin}"})).status == 200


async def test_a_readonly_call_is_refused_but_still_refreshes_the_session(
    client: Client, wall: WallClock
) -> None:
    reader = (await login(client, "readonly"))["mojolicious"]
    response = await get(client, {"Cookie": f"mojolicious={reader}"})
    assert (response.status, await response.read()) == (403, alert("Forbidden."))
    assert "Max-Age=3600" in set_cookies(response)["mojolicious"]


async def test_a_cookie_naming_an_unknown_user_is_401(client: Client, wall: WallClock) -> None:
    api = runtime_of(client).apis["traffic_ops"]
    assert isinstance(api, TrafficOps)
    ghost = api.sessions.login_headers("ghost", with_access_token=False)[0].partition(";")[0]
    response = await get(client, {"Cookie": ghost})
    assert (response.status, await response.read()) == (401, alert("user not found"))
    assert "Set-Cookie" not in response.headers


async def test_an_empty_session_cookie_is_a_user_without_privileges(
    make_client: MakeClient,
) -> None:
    # tocookie.Parse finds no cookie and no error in "": the server goes on with no user.
    client = await make_client()
    response = await get(client, {"Cookie": "mojolicious="})
    assert (response.status, await response.read()) == (403, alert("Forbidden."))
    assert "Set-Cookie" not in response.headers
    client = await make_client(api_settings={"traffic_ops": {"role_based_permissions": True}})
    response = await get(client, {"Cookie": 'mojolicious=""'})
    assert (response.status, await response.read()) == (
        403,
        alert("missing required Permissions: ASYNC-STATUS:READ"),
    )


@pytest.mark.parametrize(
    ("cookie", "text"),
    [
        ("nodashes", "error parsing cookie: malformed cookie 'nodashes' - no dashes"),
        ("eyJhIjoxfQ--0000", "bad signature - unauthorized, please log in"),
        # Go decodes the data and the signature before checking it: its errors say no more.
        ("a-b", "Unauthorized"),
        ("eyJhIjoxfQ--xyz0", "Unauthorized"),
        ("eyJhIjoxfQ==--0000", "Unauthorized"),
    ],
)
async def test_bad_session_cookies(client: Client, cookie: str, text: str) -> None:
    response = await get(client, {"Cookie": f"mojolicious={cookie}"})
    assert (response.status, await response.read()) == (401, alert(text))


async def test_expired_on_purpose_every_credential_issued_gets_the_expired_answer(
    client: Client,
) -> None:
    cookies = await login(client)
    token = cookies["access_token"]
    expire = await client.post("/_emulator/credentials/expire", json={"api": "traffic_ops"})
    assert (await expire.json())["expired"] == ["traffic_ops"]
    for headers in (
        {"Cookie": f"mojolicious={cookies['mojolicious']}"},
        {"Cookie": f"access_token={token}"},
        {"Authorization": f"Bearer {token}"},
    ):
        response = await get(client, headers)
        assert (response.status, await response.read()) == (401, alert(EXPIRED)), headers
    response = await get(client, {"Cookie": "mojolicious=eyJhIjoxfQ--0000"})
    assert await response.read() == alert("bad signature - unauthorized, please log in")
    fresh = await login(client)  # credentials issued afterwards work
    assert (await get(client, {"Cookie": f"mojolicious={fresh['mojolicious']}"})).status == 200
    assert (await get(client, {"Authorization": f"Bearer {fresh['access_token']}"})).status == 200


async def test_expiry_remembers_a_bounded_number_of_secrets(client: Client) -> None:
    first = (await login(client))["mojolicious"]
    await client.post("/_emulator/credentials/expire", json={"api": "traffic_ops"})
    second = (await login(client))["mojolicious"]
    for _ in range(64):
        await client.post("/_emulator/credentials/expire", json={})
    assert await (await get(client, {"Cookie": f"mojolicious={second}"})).read() == alert(EXPIRED)
    too_old = await (await get(client, {"Cookie": f"mojolicious={first}"})).read()
    assert too_old == alert("bad signature - unauthorized, please log in")


async def test_a_reset_forgets_every_session(client: Client) -> None:
    cookies = await login(client)
    await client.post("/_emulator/reset")
    response = await get(client, {"Cookie": f"mojolicious={cookies['mojolicious']}"})
    assert (response.status, await response.read()) == (
        401,
        alert("bad signature - unauthorized, please log in"),
    )
    assert (await get(client, {"Authorization": f"Bearer {cookies['access_token']}"})).status == 401
    fresh = await login(client)
    assert (await get(client, {"Cookie": f"mojolicious={fresh['mojolicious']}"})).status == 200


async def test_session_lifetimes_are_settings(make_client: MakeClient) -> None:
    settings = {"login_cookie_seconds": 120, "refresh_cookie_seconds": 30}
    client = await make_client(api_settings={"traffic_ops": settings})
    clock = WallClock(WALL)
    runtime_of(client).wall_clock = clock
    response = await client.post("/api/4.0/user/login", json={"u": "admin", "p": "twelve12"})
    cookie = response.cookies["mojolicious"]
    assert cookie["max-age"] == "120" and response.cookies["access_token"]["max-age"] == "120"
    clock.now = WALL + 120
    response = await get(client, {"Cookie": f"mojolicious={cookie.value}"})
    assert response.status == 200 and response.cookies["mojolicious"]["max-age"] == "30"
    clock.now = WALL + 121
    assert (await get(client, {"Cookie": f"mojolicious={cookie.value}"})).status == 401

"""Loopback fakes of the provider APIs grantd calls (Twitch Drops, Epic Ecom,
Steam inventory, Prime Gaming with Login with Amazon, GAMEPOT login
validation and external payment), for tests."""
from .common import FakeProvider, HttpError, Request, Response
from .epic import FakeEpic
from .gamepot import FakeGamepot
from .oauth import OAuthFake, pkce_challenge
from .primegaming import FakePrimeGaming
from .steam import FakeSteam
from .tentuplay import FakeTentuPlay
from .twitch import FakeTwitch

__all__ = ["FakeProvider", "OAuthFake", "HttpError", "Request", "Response",
           "FakeTwitch", "FakeEpic", "FakeSteam", "FakePrimeGaming",
           "FakeGamepot", "FakeTentuPlay", "pkce_challenge"]

"""Loopback fakes of the pull providers grantd calls (Twitch Drops, Epic Ecom,
Steam inventory, Prime Gaming with Login with Amazon), for tests."""
from .common import FakeProvider, HttpError, Request, Response
from .epic import FakeEpic
from .oauth import OAuthFake, pkce_challenge
from .primegaming import FakePrimeGaming
from .steam import FakeSteam
from .twitch import FakeTwitch

__all__ = ["FakeProvider", "OAuthFake", "HttpError", "Request", "Response",
           "FakeTwitch", "FakeEpic", "FakeSteam", "FakePrimeGaming",
           "pkce_challenge"]

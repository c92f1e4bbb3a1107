"""pytest fixtures that run one provider fake per test and always stop it,
and a helper that builds grantd's `providers` config section from fakes."""
import pytest

from .epic import FakeEpic
from .gamepot import FakeGamepot
from .primegaming import FakePrimeGaming
from .steam import FakeSteam
from .tentuplay import FakeTentuPlay
from .twitch import FakeTwitch


def running(fake):
    """Starts `fake`, yields it, stops it; then fails the test if a handler
    of the fake crashed (which the client saw as a 500)."""
    with fake:
        yield fake
    fake.check()


@pytest.fixture
def fake_twitch():
    yield from running(FakeTwitch())


@pytest.fixture
def fake_epic():
    yield from running(FakeEpic())


@pytest.fixture
def fake_steam():
    yield from running(FakeSteam())


@pytest.fixture
def fake_primegaming():
    yield from running(FakePrimeGaming())


@pytest.fixture
def fake_gamepot():
    yield from running(FakeGamepot())


@pytest.fixture
def fake_tentuplay():
    yield from running(FakeTentuPlay())


def tentuplay_config(fake, **override):
    """{"tentuplay": <section>} pointing grantd's offer relay at a running
    FakeTentuPlay (a top-level section, not under `providers`); `override`
    replaces keys (e.g. payload_key=... for a wrong key)."""
    section = fake.grantd_config()
    section.update(override)
    return {"tentuplay": section}


def providers_config(*fakes):
    """{"providers": {<id>: <section>}} pointing grantd at each running fake,
    ready to merge into a grantd config."""
    return {"providers": {f.provider_id: f.grantd_config() for f in fakes}}

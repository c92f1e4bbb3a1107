"""Makes the provider fake fixtures available to the fakes' self-tests."""
from .fixtures import (fake_epic, fake_primegaming, fake_steam,  # noqa: F401
                       fake_twitch)

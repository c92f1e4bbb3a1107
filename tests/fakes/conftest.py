"""Makes the provider fake fixtures available to the fakes' self-tests."""
from .fixtures import (fake_epic, fake_gamepot,  # noqa: F401
                       fake_primegaming, fake_steam, fake_tentuplay,
                       fake_twitch)

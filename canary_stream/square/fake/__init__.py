"""The local fake Square (square.md): Square's REST shapes, served from memory by aiohttp."""

from canary_stream.square.fake.app import make_fake_square, serve
from canary_stream.square.fake.store import FakeSquareState, Fault

__all__ = ["FakeSquareState", "Fault", "make_fake_square", "serve"]

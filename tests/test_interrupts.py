"""`interrupts.deferred`: a signal that arrives inside a block is held until the block ends;
when the block ends in an exception of its own, that exception goes on and the signal stays
pending, not held for some later, unrelated block (a store write) to raise."""

from __future__ import annotations

import os
import signal

import pytest

from melt import interrupts


@pytest.fixture
def handlers() -> object:
    previous = interrupts.install()
    yield
    interrupts.restore(previous)


def test_a_signal_inside_a_block_is_raised_when_it_ends(handlers: object) -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached = True  # the handler held it: the block runs to its end
    assert reached


def test_a_block_that_raises_keeps_its_error_and_leaves_no_signal_held(handlers: object) -> None:
    with pytest.raises(RuntimeError), interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("the store write failed")
    with interrupts.deferred():  # a later block: nothing stale to raise here
        pass
    with pytest.raises(KeyboardInterrupt):  # the signal is still pending, not lost
        interrupts.raise_if_pending()

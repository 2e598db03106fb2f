"""Small result types shared by the model modules."""

from typing import NamedTuple


class Simulation(NamedTuple):
    """What ``simulate`` returns: ``data`` (``{"X": ..., "y": ...}``) and the true ``params``."""

    data: dict
    params: dict

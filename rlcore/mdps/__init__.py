"""The catalogue of MDPs: Sutton & Barto's examples and standard test problems, each an :class:`rlcore.MDP`.

Grid states are numbered row-major. Grid actions are ``("up", "right", "down", "left")``
(Gymnasium's CliffWalking order); FrozenLake keeps Gymnasium's own ``("left", "down", "right", "up")``.
"""

from rlcore.mdps.classic import (
    GRID_ACTIONS,
    cliff_walking,
    frozen_lake,
    gamblers_problem,
    garnet,
    gridworld_4x4,
    gridworld_5x5,
    random_walk,
    two_state,
)

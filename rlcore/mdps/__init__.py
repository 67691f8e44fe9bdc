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
from rlcore.mdps.chapters_6_8 import (
    BLOCKING_MAZE_CHANGES_AT,
    SHORTCUT_MAZE_CHANGES_AT,
    WINDY_GRIDWORLD_WIND,
    blocking_maze,
    dyna_maze,
    maximization_bias,
    shortcut_maze,
    windy_gridworld,
)
from rlcore.mdps.chapters_9_12 import random_walk_1000

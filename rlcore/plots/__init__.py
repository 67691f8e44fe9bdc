"""Pictures and text tables of values, policies and learning (lectures 2–9).

- :mod:`~rlcore.plots.values`: value heatmaps with policy arrows, convergence plots.
- :mod:`~rlcore.plots.learning`: learning curves with confidence bands, learned vs optimal policies, ‖Q − Q*‖.
- :mod:`~rlcore.plots.text`: V, Q and paths as plain text.

Matplotlib is imported lazily, when a plot is drawn.
"""

from rlcore.plots.learning import (
    confidence_band,
    moving_average,
    plot_learning_curves,
    plot_paths,
    plot_policy_comparison,
    plot_q_error,
    suboptimal_states,
)
from rlcore.plots.text import path_text, q_table, value_table
from rlcore.plots.values import plot_convergence, plot_values

"""The guided tour's cliff-walking section runs, prints the comparison and writes its figure."""

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

from tour import td_control  # noqa: E402


def test_tour_td_control(tmp_path, capsys):
    td_control.run(tmp_path)
    out = capsys.readouterr().out
    sarsa = float(re.search(r"SARSA\s+(-?\d+\.\d)", out).group(1))
    q_learning = float(re.search(r"Q-learning\s+(-?\d+\.\d)", out).group(1))
    assert -30 <= sarsa <= -25 and -55 <= q_learning <= -45
    assert "Q-learning: greedy path of the learned Q (13 steps" in out
    assert (tmp_path / "cliff_sarsa_vs_q_learning.png").stat().st_size > 10_000

"""The guided tour's course chapter (bandits, maximisation bias, Dyna-Q) runs, prints the book's
shapes and writes its figure."""

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

from tour import course  # noqa: E402


def test_tour_course(tmp_path, capsys):
    course.run(tmp_path)
    out = capsys.readouterr().out
    optimal = {float(eps): int(pct) for eps, pct in re.findall(r"ε = ([\d.]+)\s*: .*optimal action (\d+)%", out)}
    assert set(optimal) == {0.0, 0.01, 0.1}
    assert optimal[0.0] < optimal[0.01] < optimal[0.1] and 75 <= optimal[0.1] <= 85  # Figure 2.2: ~80% at ε = 0.1
    late_left = {name: int(last) for name, last in re.findall(r"(Q-learning|double Q-learning)\s*: % left at episodes "
                                                              r"1, 20, 300: \d+, \d+, (\d+)", out)}
    assert late_left["double Q-learning"] <= 10 < late_left["Q-learning"]  # Figure 6.5: the bias, and its cure
    episode_2 = [float(x) for x in re.findall(r"planning steps: steps in episode 2\s+([\d.]+)", out)]
    assert len(episode_2) == 3 and episode_2[0] > episode_2[1] > episode_2[2]  # Figure 8.2: planning speeds learning
    assert (tmp_path / "bandits.png").stat().st_size > 10_000

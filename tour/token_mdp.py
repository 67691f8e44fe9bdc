"""Tour, part 3: the bundled language model as an MDP — exact answers and tabular agents on tokens."""

import pathlib

import matplotlib.pyplot as plt
import numpy as np
import torch

import lmenv
import rlcore as rl
from lmenv import rewards as R


def heading(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")


def run(out: pathlib.Path) -> None:
    # --- 1. The bundled model ------------------------------------------------------------
    heading("11. The bundled character-level GPT (lmenv.load_pretrained)")
    # On the CPU even where there is a GPU: this part steps one sequence at a time (sampling, the
    # environment, tabular agents), where a 335k-parameter model runs faster on the CPU.
    device = torch.device("cpu")
    model, tokenizer = lmenv.load_pretrained(device=device)
    metadata = lmenv.load_checkpoint(lmenv.pretrained_path())[2]
    print(f"{model.num_params():,} parameters, validation loss {metadata['val_loss']:.3f} nats "
          f"= {metadata['val_bits_per_char']:.3f} bits per character")
    prompt = torch.tensor([tokenizer.encode("ROMEO:\n")], device=device)  # on the model's device
    sample = model.generate(prompt, 120, generator=torch.Generator(device=device).manual_seed(0))
    print("a sample:\n" + tokenizer.decode(sample[0].tolist()))

    # --- 2. Token generation as an MDP, solved exactly -----------------------------------
    heading("12. The token-level MDP: prompt 'ROMEO:\\nI ', actions 'etaoinsh', horizon 5")
    task = R.ContainsWord("the") + R.AvoidCharacters("s", 0.2)  # sparse terminal + dense immediate
    env = lmenv.TokenEnv(model=model, tokenizer=tokenizer, prompt="ROMEO:\nI ", max_new_tokens=5,
                         actions="etaoinsh", reward=task)
    tree = lmenv.to_mdp(env)
    hard = rl.value_iteration(tree.task_mdp)
    v_ref = rl.policy_evaluation(tree.task_mdp, tree.reference).V[0]
    print(f"{tree.n_states:,} prefixes; V*(s0) = {hard.V[0]:.4f}; the model's own policy: V^π_ref(s0) = {v_ref:.4f}")
    print("β      V*_β(s0)   J_β(hard optimum)   most likely text under π*_β")
    for beta in (0.05, 0.1, 0.3, 1.0):
        soft = tree.kl_regularised_optimum(beta)
        s = 0
        while not tree.terminal[s]:  # follow the most likely action of π*
            s = tree.child(s, int(soft.policy[s].argmax()))
        print(f"{beta:<6} {soft.V[0]:9.4f}   {tree.kl_regularised_value(hard.policy, beta)[0]:17.4f}   "
              f"{tree.state_name(s)!r}")
    soft = tree.kl_regularised_optimum(0.1)
    root_gap = np.abs(0.1 * np.log(soft.policy[0] / tree.reference[0]) - (soft.Q[0] - soft.V[0])).max()
    print(f"check at the root: max |β log(π*/π_ref) − (Q* − V*)| = {root_gap:.1e}")

    # --- 3. Tabular agents on tokens, scored exactly -------------------------------------
    heading("13. rlcore's Q-learning and SARSA on token generation, evaluated exactly on the tree")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for Agent, settings in ((rl.QLearning, dict(alpha=0.5, epsilon=0.2)), (rl.Sarsa, dict(alpha=0.5, epsilon=0.1))):
        agent = Agent(env, gamma=1.0, seed=0, **settings)
        episodes, fractions = [0], [rl.policy_evaluation(tree.task_mdp, tree.policy_from_values(agent.q_values)).V[0]]
        for chunk in range(8):
            rl.train(agent, env, 250, seed=chunk, progress=False)
            greedy = tree.policy_from_values(agent.q_values)
            episodes.append(250 * (chunk + 1))
            fractions.append(rl.policy_evaluation(tree.task_mdp, greedy).V[0] / hard.V[0])
        print(f"{Agent.__name__:9s} greedy policy after {episodes[-1]} episodes: {fractions[-1]:.0%} of V*(s0)")
        ax.plot(episodes, fractions, marker=".", label=Agent.__name__)
    ax.axhline(1.0, color="gray", ls="--", label="V*")
    ax.set(xlabel="episodes", ylabel="V^greedy(s0) / V*(s0)", title="tabular agents on tokens (exact)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "token_agents.png", dpi=120)
    plt.close(fig)

"""Agents that learn: policy networks (:mod:`.policies`), PPO (:mod:`.ppo`), behavioural
cloning and learning curves. Every module here imports torch when it is imported, so nothing
outside the learning commands imports this package at start-up."""

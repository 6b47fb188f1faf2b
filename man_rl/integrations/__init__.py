"""Bridges to other libraries, each importing its library only where it is used.

- :mod:`man_rl.integrations.trainer`: :class:`~man_rl.integrations.trainer.MemoryTrainer`,
  a long-term memory trained beside an agent of any RL library;
- :mod:`man_rl.integrations.sb3`: :class:`~man_rl.integrations.sb3.MemoryCallback`, the same
  as a Stable-Baselines3 callback;
- :mod:`man_rl.integrations.minari`: Minari datasets in and out
  (:func:`~man_rl.integrations.minari.memory_from_minari`,
  :func:`~man_rl.integrations.minari.memory_to_minari`; ``pip install 'man_rl[minari]'``).

Example:
    >>> from man_rl.integrations.minari import KEY_INFO  # minari itself is not imported
    >>> KEY_INFO
    'state_key'
"""

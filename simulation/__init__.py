"""Synthetic field exports of a prefecture-wide visiting campaign, with ground truth.

Public API (imported by the CLI and tests only; nothing else imports ``simulation``):

* :class:`simulation.world.SimulationConfig` - run parameters (households, window, seed,
  format, noise rates); the model of the world and the source of every rate are in
  :mod:`simulation.world`.
* :func:`simulation.simulate.simulate` ``(config, out_dir) -> SimulationSummary`` - writes
  ``visits_YYYY-MM.{xlsx,csv}``, ``incidents_YYYY-MM.{xlsx,csv}`` and ``ground_truth/``.
* :func:`simulation.calibration.calibration_report` ``(out_dir) -> dict`` - calibration
  figures measured from the files.
* :mod:`simulation.revisits` - what a policy revisit does (effect sizes and their
  sources) and the hook through which :func:`simulation.engine.run` asks a policy loop
  for each week's revisits.
* :mod:`simulation.policy` - the policy loop (``revisit simulate-policy``); unlike the
  rest of the package it sits at the top of the layers and may import training,
  models, features and warehouse.
"""

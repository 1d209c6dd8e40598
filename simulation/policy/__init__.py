"""Policy simulation: revisits chosen by a policy, run forward in the simulated prefecture.

``revisit simulate-policy`` (DESIGN.md, "Policy simulation"). Each Monday every
township's officers revisit up to K households chosen by a policy (``none``,
``random``, the officers' rules ``rule:*``, the ``model`` retrained on the records
the simulation has produced so far, or the ``oracle``); the simulator
(:mod:`simulation.revisits`) carries the revisits out and knows what they averted.

This package sits at the top of the layers, next to the CLI: it may import
``training``, ``models``, ``features`` and ``warehouse``. Every policy but the
oracle sees only the records (:mod:`simulation.policy.records`: the field exports as
ingested, with their recording and review delays). The rest of ``simulation/``
(the world) imports nothing of ours but ``warehouse.contract``.

Modules: :mod:`.records` (event log -> canonical tables), :mod:`.select` (capacity,
cooldown, lottery at the margin), :mod:`.model_policy` (the model's benefit ranking:
risk times the chance a visit finds an active dispute), :mod:`.loop` (one policy-seed run),
:mod:`.estimate` (the revisit-effect estimators), :mod:`.report` (figures, table,
plots, MLflow).
"""

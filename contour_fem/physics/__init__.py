"""Physics layer: parameters, the current distribution, creep, coupling and the criterion.

``parameters`` and ``criterion`` need only numpy; ``current``, ``creep`` and ``coupling`` build
DOLFINx problems from the ``fem`` layer. Importing this package loads neither.
"""

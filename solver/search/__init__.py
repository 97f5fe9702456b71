"""The searches: OR-Tools (``ortools``) and the compiled ruin and recreate (``sisr``),
what they take and return (``types``), and which one runs where (``strategy``).

This package's own import is light on purpose: ``solver.plan`` needs ``types``
and ``strategy`` needs ``solver.plan``.
"""

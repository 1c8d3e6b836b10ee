"""Fault drills (``make drills``): the real pipeline steps against the simulators, each with its fault injected.

Each drill prints one line, counted from the departments' own stores and 皖事通办's sink, never from the
hub's claims (:mod:`bench.drills.tally`)::

    drill <name>: sent=<n> received=<n> duplicates=<n> lost=<n> fates=<ok|…>

followed by indented notes (kills that landed, finish times, resends). The drills are in
:mod:`bench.drills.scenarios`, their worlds in :mod:`bench.drills.world`; ``python -m bench.drills`` runs them.
"""

"""lianban (联办): the data-exchange hub behind Bozhou's 退休一件事.

The core package: domain rules, catalog, sealing, ledger and pipeline steps. It imports no Airflow and
no transport library at module level; DAGs and connectors wire it to the outside world.
"""

__version__ = "0.1.0"

"""Pipeline steps, each a plain function over the ledger: stage → deliver → collect → report.

Airflow tasks call these and pass on only the small result objects (counts, never records).
"""

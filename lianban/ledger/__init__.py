"""The ledger (台账): cases, case items, deliveries (the outbox), status events, quarantine, watermarks.

SQLAlchemy 2 on SQLite by default, any SQLAlchemy URL through ``LIANBAN_LEDGER_URL``; the schema is owned
by Alembic migrations in ``lianban/ledger/migrations``. No plaintext name, ID number or phone is stored:
people are found through an SM3-HMAC blind index, and what must be resent stays sealed.
"""

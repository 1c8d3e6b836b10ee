"""Validation with Great Expectations (issue 11): the domain rules (:mod:`lianban.domain.rules`) run as
custom GX expectations over one DataFrame per chunk of staged rows.

    expectations  each rule as a custom MulticolumnMapExpectation (imports GX)
    runner        the ephemeral context, data source, batch definition, suite and validation definition,
                  built once per process (:func:`runner.validator`); unexpected row indexes → reasons
    chunk         what stage calls: a chunk of records + the ledger's open cases → each record's reasons
    docs          Data Docs (HTML) of a run's validations, personal values masked

GX is imported lazily, once per process, on the first chunk (a few seconds); nothing else imports it.
"""

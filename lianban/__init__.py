"""lianban (联办): the data-exchange hub behind Bozhou's 退休一件事.

The core package, in layers; each imports only the layers below it (``.importlinter``, checked by
``make test``)::

    app        the composition root: config (the only reader of the environment), registry (connectors
       │       by department), jobs (what DAG tasks call), setup, diagnose, redact, db_trouble (a database
       │       error in one sentence), demo + demo_view, scaffold (+ templates/), alerting (e-mail and SMS
       │       channels), cli/ (one module per command group),
       │       up (`lianban up`/`down`: the real Airflow, the simulators and the hub API on this machine;
       │       processes, started and stopped by pid; airflow_api, Airflow's REST API as a client),
       │       api/ (the hub's own HTTP service, ``lianban serve``: server, guards, page, running, callbacks)
       │       dashboard/ (the operators' 运行看板 inside Airflow's UI, mounted by ``plugins/``: board, queries,
       │       series, svg, page, style, server)
    pipeline   the steps over the ledger: stage (+ prepare: each chunk's own work, in a process of its own),
       │       quarantine (+ decisions: an operator's release or reject), sealer, deliver (+ bisect), lanes
       │       (a run on several connections at once, for deliver and feedback), dead_letters, status_log
       │       (HRSS's own items), supplements (补正 submissions forwarded), feedback (polling departments),
       │       callbacks (status changes departments push), rewards (item 13 paid by HRSS), notices (held
       │       applications told 补正资料), report (to 皖事通办, each event with its 办件 record from
       │       banjian; a backlog read in an offload process), offload (a child process running module-level
       │       functions), alerts (liaisons told of incidents), daily (each liaison's daily summary),
       │       sms_notices (双告知 by SMS, exactly once), reminders (到龄提醒 planned from HRSS's register),
       │       pensions (待遇告知 of approved pensions), forecast (the register and the ledger's item choices,
       │       read for the retirement-wave forecast),
       │       validate/ (the domain rules as custom Great Expectations expectations, run per chunk:
       │       expectations, runner, chunk, docs)
       │
    ledger     the database: db (engines, migrations/), models, store, evidence (the signed message log;
       │       evidence_head mirrors its head beside the keys, evidence_archive writes monthly archives),
       │       progress, cases, time_limits (read models), results (sealed 办理结果), progress_query (the
       │       applicant's query by 办件编号 + 查询密码: applicant_view what it shows, query_attempts its rate limit),
       │       nonces (callbacks' and answers' replay memory, one for all processes), reconciliation (对账),
       │       incidents (what is wrong now, by party), health (scheduled connection checks, failed tasks),
       │       outbox (claiming due rows, so two runs never send the same one; settling them set-based),
       │       daily (the daily summary's figures), new_cases (a staged chunk's new cases, items and outbox rows
       │       written set-based; new_items, what it writes for one item), status_book (a page's status
       │       moves judged in memory, written set-based), delivery_keys (deliveries found by idempotency
       │       key, keyed in sorted batches), log_gaps (reading a numbered log past a watermark when its
       │       numbers can commit out of order), leases (one run at a time for work that tells someone outside),
       │       sealed (what the ledger still needs a vault key to open)
       │
    wire       what both ends of the wire agree on: settings, transport, gateway and response signatures,
       │       ids (idempotency key, aad), contract (the connector protocol), sms (the SMS gateway's
       │       messages, results and delivery receipts)
    keys       key material on disk: rings (SM4), keysets (SM2/NIST), names, provision, files (0600)
       │
    crypto     pure, no I/O: hashing (SM3), suites, sm2 (native gmssl-pyx engine, pure-Python gmalg fallback),
       │       merkle, batch (envelopes), vault (at rest), passwords (the 查询密码's keyed SM3-HMAC)
       │
    domain     pure rules, reading schemas/ only: statuses, status_machine, record, catalog, intake
               (reading a 前置库 row), reasons (why a record cannot be routed), columns (a chunk's records as
               plain columns, without pandas), identity, retirement (the 2025 reform), validation, rules/
               (the validation rules, vectorised over a chunk: base, frame, fields, identity, reform, items),
               routing, batches, schemas,
               working_days (holidays and 调休, from the chinese-calendar package's data), clock (Beijing
               time, the zone of every date a person reads), results
               (办理结果 forms and sentences), supplements (补正 materials by code, the 补正 deadline),
               liaisons (the 联络员 register), incidents (alert kinds and their texts), sms (SMS
               templates, segment counting, the ID-number guard, quiet hours), register (双告知: a
               register row, an approved pension, the reminder a person is due), forecast (the retirement
               wave, counted)

    errors     the error tree every layer raises (outside the layers)
    gc_tuning  how often the garbage collector runs, set by every process's entry point (outside the layers)

Beside the core: ``connectors/`` (one package per department, and ``sms/`` for the SMS gateway; they import
the core below ``app`` and never each other), ``simulators/`` (the departments and the SMS gateway as real local
servers, HRSS's back office and the applicants, for tests and the demo), ``dags/``
and ``plugins/`` (the Airflow plugin showing the dashboard; the only places Airflow is imported) and ``schemas/``
(data).
"""

__version__ = "0.1.0"

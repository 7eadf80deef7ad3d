"""ipaas_sync: the Lambda layer that carries iPaaS.com events to 99minds, Stamped.io and Mintsoft (Makini).

Layout (one place per concept):
    models/        pydantic models: the SQS message contract, iPaaS.com records, outcomes
    settings.py    subscription settings (names as iPaaS.com users know them), loading and validation
    errors.py      the failure classes and the one classification of any exception
    http.py        requests sessions with urllib3 Retry, timeouts, deadline and rate limit per attempt
    throttle.py    the per-destination rate limiter shared through DynamoDB
    idempotency.py Powertools idempotency on DynamoDB, keyed on business identity
    clients/       one adapter per external system (iPaaS.com, 99minds, ...)
    mapping/       pure functions, one module per entity x destination
    transfer/      the orchestration of one record's transfer, per entity
    processing.py  SQS batch handling: partial batch replies, DLQ routing, outcome logging and metrics
"""

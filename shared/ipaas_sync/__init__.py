"""ipaas_sync: the Lambda layer that carries iPaaS.com events to 99minds, Stamped.io and Mintsoft (Makini), and
loyalty back from 99minds into iPaaS.com. One folder per layer; a module imports only its own layer and the ones
below (tests/unit/test_layering.py); docs/architecture.md draws them and gives the checklist for a new destination.

    core/          errors and their one classification, observability (logger, metrics, masking), the base
                   settings and their loading, the models (message contract, iPaaS.com records, outcomes)
    platform/      HTTP with retries, the shared rate limiter (throttle), pacing, the invocation deadline, SQS
    ipaas/         the iPaaS.com adapter and its custom fields
    mapping/       what every destination's mappings share (validation helpers, the transaction filter)
    runtime/       the path of one record: the SQS batch (processing), idempotency, pending markers, the transfer
                   environment, dispatch by the registry, links, the ledger writer, the entity transfers
    destinations/  the registry (__init__.py, spec.py: data every layer reads) and one folder per destination:
                   its settings (its secret's shape), client, mapping/<entity>.py, transfer/<entity>.py, to_ipaas/
    ingress/       the hook ingress (iPaaS.com) and destination webhooks (99minds)
    tools/         the operator tools and all command-line code (`ipaas-sync`), InitializeFunction, DLQ replay
"""

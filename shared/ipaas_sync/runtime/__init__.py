"""The path of one record through a transfer function: the SQS batch, idempotency, pending markers, the transfer
environment, dispatch to the destination, links, the ledger writer."""

"""The operator tools and all command-line code: `ipaas-sync` (cli), initialize, sync, DLQ replay, credentials, the
ledger's reports."""

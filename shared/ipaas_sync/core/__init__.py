"""The bottom layer: errors and their one classification, observability (logger, metrics, masking), the base settings
and their loading, the models (message contract, iPaaS.com records, outcomes). Imports nothing above it."""

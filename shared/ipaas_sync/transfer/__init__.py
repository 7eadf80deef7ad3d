"""Transfer orchestration: one module per entity; each picks the destination by the subscription."""

"""One record's transfer to Makini, one module per entity."""

"""One record's transfer to 99minds, one module per entity."""

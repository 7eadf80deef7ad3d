"""The pure mappings of iPaaS.com records to Makini requests, one module per entity."""

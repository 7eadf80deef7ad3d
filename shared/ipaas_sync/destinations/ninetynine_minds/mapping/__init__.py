"""The pure mappings of iPaaS.com records to 99minds requests, one module per entity."""

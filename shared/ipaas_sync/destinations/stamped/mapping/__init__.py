"""The pure mappings of iPaaS.com records to Stamped.io requests."""

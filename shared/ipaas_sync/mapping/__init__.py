"""Pure mapping: iPaaS.com record -> destination payload. No I/O, no settings lookups inside."""

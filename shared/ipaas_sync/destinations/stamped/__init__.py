"""Stamped.io: customers from iPaaS.com."""

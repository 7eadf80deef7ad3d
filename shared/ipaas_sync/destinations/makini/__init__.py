"""Mintsoft through the Makini unified API: customers and sales orders from iPaaS.com."""

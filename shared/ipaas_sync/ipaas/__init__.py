"""iPaaS.com, the side every destination shares: its API adapter and its custom fields."""

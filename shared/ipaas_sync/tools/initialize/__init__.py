"""`ipaas-sync initialize` and InitializeFunction: every existing record of an entity onto its queue, paced and resumable."""

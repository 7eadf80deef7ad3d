"""One record's transfer to Stamped.io."""

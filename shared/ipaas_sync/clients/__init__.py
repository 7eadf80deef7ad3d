"""One adapter per external system; each is the only place that knows that system's paths and auth."""

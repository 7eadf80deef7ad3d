"""Development tooling: partner sandboxes and the local pipeline. Not part of the Lambda layer."""

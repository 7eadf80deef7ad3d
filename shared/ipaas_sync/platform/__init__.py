"""What every adapter stands on: HTTP sessions with retries, the shared rate limiter, pacing, the invocation deadline,
the SQS client."""

"""The internet-facing hook ingresses: iPaaS.com hook requests and destination webhooks onto the queues."""

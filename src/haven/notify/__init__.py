"""Notification: subscriptions, the outbox, and delivery by e-mail, webhook and in-app inbox."""

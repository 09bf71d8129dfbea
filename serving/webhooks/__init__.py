"""Tier-change webhooks: subscriptions, the outbox of deliveries, signing and sending."""

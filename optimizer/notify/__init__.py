"""Notifications for the person: message texts, the persisted outbox and the apprise sender."""

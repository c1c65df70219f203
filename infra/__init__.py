"""Infrastructure: settings, the event store, migrations and logging."""

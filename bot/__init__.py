"""The running Cobra service: web app, webhooks, settings, scheduler and CLI."""

"""The service's HTTP side: the JSON API, the dashboard and the live-update stream."""

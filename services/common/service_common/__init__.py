"""What the three services share: JSON logs, HTTP metrics and limits, the settings base, server start-up."""

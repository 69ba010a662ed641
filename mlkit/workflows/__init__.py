"""The two workflows that compose the services: train and promote. Each reads top to bottom."""

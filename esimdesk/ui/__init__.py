"""Qt views. Thin: they show services' data and forward the agent's actions to services."""

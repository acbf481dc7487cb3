"""LiveQuery: the websocket protocol, the subscription registry, fan-out (a later issue)."""

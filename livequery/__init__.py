"""LiveQuery: the websocket protocol, the subscription registry, the dispatcher and fan-out."""

"""From an incoming message to a flow: who speaks and what they want."""

"""Events comms consumes (handlers) and the payloads of the events it emits (payloads)."""

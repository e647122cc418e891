"""The chat side of mobilisation calls: commands, the guided call, answer buttons and
the deadline runner."""

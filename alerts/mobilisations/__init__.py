"""Mobilisation calls: needs, start times, live counts and lifecycle decisions (pure)."""

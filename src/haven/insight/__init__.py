"""Insight: figures for analysts through the policy gate, and open statistics that reveal no one."""

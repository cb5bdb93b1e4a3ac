"""Permits (安全作业票): the eight special operations, filed and carried through their life over the API."""

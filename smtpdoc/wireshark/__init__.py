"""Wireshark integration: the catalog as a configuration profile and a Lua post-dissector."""

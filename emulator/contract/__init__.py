"""Contract testing both ways: `verify` checks a real provider (live, or a HAR file, or the
emulator's journal) against the contract the emulator serves, and `record` turns a real
provider's tasks, seen through a reverse proxy, into scenarios the emulator can serve.

Per-vendor knowledge lives in `vendors/`, one module per API; the rest is vendor-neutral.
"""

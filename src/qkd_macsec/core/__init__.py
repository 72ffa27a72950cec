"""The rotation core: vendor-neutral rules shared by the off-box engine and the on-box script."""

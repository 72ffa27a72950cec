"""Certificate lifecycle over an inventory: checks, SAE renewal, CA fetch (see ``renew``)."""

"""What Amazon knows that the catalog does not, read back into the warehouse (issue 15)."""

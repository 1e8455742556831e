"""Imports (docs/contract.md §5): every real stations or roster import recorded with
what it did to each row, listed for the staff and undone within ``IMPORT_UNDO_DAYS``;
and the console's short-lived store of files between preview and confirmation."""

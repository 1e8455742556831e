"""Wage-arrears reports (欠薪报工) and their cases, docs/contract.md §11."""

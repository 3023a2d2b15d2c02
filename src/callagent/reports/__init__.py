"""Reports: the KPI engine (formulas), the facts it reads from the database."""

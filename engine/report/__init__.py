"""Reports: self-contained HTML views of run folders and ablations."""

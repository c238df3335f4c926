"""Charts and printable reports: matplotlib figures and file builders, never Qt."""

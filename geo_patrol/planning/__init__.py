"""Planning: where volunteers should patrol next (posts first; zones, loops and rosters to come)."""

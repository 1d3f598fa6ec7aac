"""The read layer: what every screen and command reads, how fresh it is, and the loops that keep
it so. Textual-free: screens subscribe and render; they do not fetch."""

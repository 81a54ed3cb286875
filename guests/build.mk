# Freestanding guests. Filled in by the VMM work.

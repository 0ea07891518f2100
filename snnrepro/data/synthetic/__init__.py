"""snnrepro.data.synthetic: datasets generated in code, always available (XOR, associative-memory patterns)."""

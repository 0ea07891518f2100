"""snnrepro.data.audio: speech and sensor series (TIDIGITS, FSDD, Speech Commands, Auslan) as feature tensors."""

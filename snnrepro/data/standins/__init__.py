"""snnrepro.data.standins: the smoke profile's stand-ins for datasets that are not on disk."""

"""snnrepro.data.events: event-camera and cochlea recordings (N-MNIST, DVS Gesture, CIFAR10-DVS, N-TIDIGITS)."""

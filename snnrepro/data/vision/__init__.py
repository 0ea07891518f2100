"""snnrepro.data.vision: image datasets (MNIST, Fashion-MNIST, CIFAR via torchvision; scikit-learn digits)."""

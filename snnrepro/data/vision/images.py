"""In-memory image datasets with train-split augmentation (shared by digits and the torchvision sources)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2


class ImageTensorDataset(Dataset):
    """Images held as one tensor ``[N, C, H, W]`` (uint8 0-255 or float 0-1), labels ``[N]``.

    Each item is ``(float image [C, H, W] in [0, 1] (or normalised), int label)``; ``transform``
    (train-split augmentation) runs per item on the float tensor.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        transform: v2.Transform | None = None,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
    ) -> None:
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(f"expected images [N, C, H, W] and N labels, got {tuple(images.shape)} / {len(labels)}")
        self.images, self.labels, self.transform = images, labels.long(), transform
        self.mean = None if mean is None else torch.tensor(mean).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = self.images[i]
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if self.transform is not None:
            x = self.transform(x)
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        return x, int(self.labels[i])


def augmentation(
    crop_padding: int = 0, hflip: bool = False, rotation: float = 0.0, size: int | None = None
) -> v2.Transform | None:
    """The papers' train-split augmentations: random crop with zero padding, horizontal flip, rotation (degrees)."""
    if crop_padding < 0 or rotation < 0:
        raise ValueError(f"crop_padding and rotation must be >= 0, got {crop_padding}, {rotation}")
    steps: list[v2.Transform] = []
    if crop_padding:
        if size is None:
            raise ValueError("random crop needs the image size")
        steps.append(v2.RandomCrop(size, padding=crop_padding))
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    if rotation:
        steps.append(v2.RandomRotation(rotation))
    return v2.Compose(steps) if steps else None

"""OntoZSL's GAN: f-CLSWGAN's generator conditioned on ontology embeddings, with OntoZSL's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kgzsl.methods.f_clswgan import FCLSWGAN
from kgzsl.registry import METHODS

__all__ = ["OntoZSLGAN", "ONTOZSL_PRESETS"]

#: the settings of OntoZSL's README commands and ``code/IMGC/config_args.py``
#: (``genggengcss/OntoZSL``); ``n_synthetic`` is the GZSL number
ONTOZSL_PRESETS: dict[str, dict[str, Any]] = {
    "awa2": {"lr": 1e-5, "batch_size": 64, "n_synthetic": 1800},
    "imagenet": {"lr": 1e-4, "batch_size": 4096, "n_synthetic": 300},
}


@METHODS.register("ontozsl_gan")
@dataclass(repr=False, eq=False)
class OntoZSLGAN(FCLSWGAN):
    """OntoZSL's feature-generating GAN (Geng et al., WWW 2021).

    From "OntoZSL: Ontology-enhanced Zero-shot Learning". The generator is f-CLSWGAN's
    (:class:`~kgzsl.methods.f_clswgan.FCLSWGAN`: a conditional WGAN-GP with G ``[z; a] → 4096
    LeakyReLU → D ReLU``, critic ``[x; a] → 4096 LeakyReLU → 1``, 5 critic steps, gradient
    penalty 10, classification loss 0.01 from a pre-trained seen-class softmax, Adam β₁ 0.5,
    min-max scaled features), conditioned on the class embeddings of OntoZSL's ontology
    encoder: use it with ``semantics: {name: ontozsl}``, or ``{name: precomputed}`` with the
    authors' ``o2v-awa.mat`` (50 × 200). Any other semantics works too. This class only
    changes the defaults, as the authors' code (``code/IMGC/gan_imgc.py``) sets them: noise of
    size 100 whatever the semantics' size, 100 epochs, and a pre-trained classifier of 100
    epochs with batch ``2 × 64``. Without a preset, lr 1e-4 and 300 synthetic features per class
    are the defaults of the authors' ``code/IMGC/args.py`` (their other defaults, batch 4,096,
    are ImageNet's; the batch stays AwA2's 64, which suits datasets of any size). Their AwA2
    lr, 1e-5, needs AwA2's 368 generator updates per epoch: on a few thousand images it stops
    before the generator learns the class conditioning (see :class:`~kgzsl.methods.f_clswgan.FCLSWGAN`).

    Presets (``preset:``; they fill only the keys left at ``None``):

    ========  =====  ====  =====  ===========================================
    preset    seed   lr    batch  n_synthetic (GZSL; the authors' ZSL number)
    ========  =====  ====  =====  ===========================================
    (none)    –      1e-4  64     300
    awa2      9182   1e-5  64     1800 (ZSL 300)
    imagenet  9416   1e-4  4096   300 (ZSL 300)
    ========  =====  ====  =====  ===========================================

    The seed is listed for reproduction (``train.seed``). Deviations from the authors' code:
    ZSL is scored with the shared GZSL classifier restricted to the unseen classes (so the
    ZSL number 300 is not used), and the classifier's epochs are chosen on validation (the
    authors keep the best test epoch).

    Args: as :class:`~kgzsl.methods.f_clswgan.FCLSWGAN`; ``pretrain_epochs`` defaults to 100
    and ``pretrain_batch_size`` to 128.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 100,
        "lr": 1e-4,
        "batch_size": 64,
        "n_synthetic": 300,
        "noise_dim": 100,
        "cls_weight": 0.01,
    }
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = ONTOZSL_PRESETS

    # OntoZSL's pre-trained seen-class softmax: 100 epochs, batch 2 × 64 (``code/IMGC/gan_imgc.py``)
    pretrain_epochs: int = 100
    pretrain_batch_size: int = 128

"""clip_zeroshot: CLIP zero-shot with knowledge prompts and zero-shot prompt weighting, on the
tiny open_clip model and synthetic features made from its own text embeddings (no CLIP
weights exist offline)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import kgzsl.testing as testing
from kgzsl.context import RunContext
from kgzsl.errors import ConfigError, DataError
from kgzsl.language.prompts import TextTower, class_names, encode_grid, name_prompts
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.clip_zeroshot import CLIPZeroShot, check_backbone
from kgzsl.registry import METHODS
from kgzsl.testing import TOY_CLASSES, check_method, toy_kg, toy_task, write_tiny_clip

CTX = RunContext(seed=0, device="cpu", progress=False)
BACKBONE = "open_clip:kgzsl-tiny-clip"
#: the tiny tower reads 16 tokens: a class name after 15 filler words is cut off, so these
#: templates give every class the same embedding (they carry no class information)
UNINFORMATIVE = [
    "a a a a a a a a a a a a a a a a {}.",
    "the the the the the the the the the the the the the the the {}",
]
INFORMATIVE = ["a photo of a {}.", "a good photo of a {}."]


@pytest.fixture
def clip(tmp_path: Path) -> dict:
    return write_tiny_clip(tmp_path)


def _class_embeddings(clip: dict, templates: list[str]) -> torch.Tensor:
    tower = TextTower(clip["arch"], clip["weights"])
    return encode_grid(name_prompts(class_names(TOY_CLASSES), templates), tower)  # [P, C, D]


def _features(embeddings: torch.Tensor, labels: torch.Tensor, noise: float, seed: int) -> torch.Tensor:
    """Image features of CLIP's kind: the class's text embedding (under a template chosen per
    image among ``embeddings``' prompts) plus Gaussian noise."""
    g = torch.Generator().manual_seed(seed)
    which = torch.arange(len(labels)) % embeddings.shape[0]
    return embeddings[which, labels] + noise * torch.randn(len(labels), embeddings.shape[2], generator=g)


def _task(clip: dict, templates: list[str] = ("{}",), noise: float = 0.02) -> tuple[ZSLTask, torch.Tensor]:
    task = toy_task()
    task.class_ids, task.feature_backbone = list(TOY_CLASSES), BACKBONE
    emb = _class_embeddings(clip, list(templates))
    task.features = _features(emb, task.labels, noise, seed=1)
    return task, emb


def test_registered_relaxed_and_not_trained():
    assert METHODS.get("clip_zeroshot") is CLIPZeroShot
    assert CLIPZeroShot.relaxed is True and CLIPZeroShot.uses_classifier is False
    assert METHODS.defaults("clip_zeroshot")["combine"] == "mean"


def test_no_weights_offline_is_one_line_at_config_time(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as e:
        METHODS.check_params("clip_zeroshot", {}, where="method")
    assert "\n" not in str(e.value) and "method: weights: CLIP zero-shot needs the weights" in str(e.value)
    with pytest.raises(ConfigError, match="pretrained tag of ViT-B-32, downloaded on first use, and HF_HUB_OFFLINE"):
        METHODS.check_params("clip_zeroshot", {"weights": "openai"}, where="method")
    with pytest.raises(ConfigError, match="nor a pretrained tag"):
        METHODS.check_params("clip_zeroshot", {"weights": str(tmp_path / "missing.pt")}, where="method")


def test_config_checks_the_sources_inputs(clip: dict, tmp_path: Path):
    with pytest.raises(ConfigError, match="'descriptions' prompts need descriptors="):
        METHODS.check_params("clip_zeroshot", {**clip, "prompts": ["names", "descriptions"]})
    with pytest.raises(ConfigError, match="weighting_images: .*expected 'test' or an existing .npy"):
        METHODS.check_params("clip_zeroshot", {**clip, "weighting_images": str(tmp_path / "x.npy")})
    with pytest.raises(ConfigError, match="documents: .*no such file"):
        METHODS.check_params("clip_zeroshot", {**clip, "prompts": "documents", "documents": str(tmp_path / "d.json")})
    with pytest.raises(ConfigError, match="method: templates: template 'a photo' has no"):
        METHODS.check_params("clip_zeroshot", {**clip, "templates": ["a photo"]}, where="method")
    with pytest.raises(ConfigError, match="logit_scale: must be > 0"):
        METHODS.check_params("clip_zeroshot", {**clip, "logit_scale": 0.0})
    assert CLIPZeroShot.needs_knowledge({"prompts": ["names", "kg_labels"]})
    assert CLIPZeroShot.needs_knowledge({"prompts": "attributes"})
    assert not CLIPZeroShot.needs_knowledge({"prompts": "attributes", "attribute_names": "a.txt"})
    assert not CLIPZeroShot.needs_knowledge({"prompts": "templates"})


def test_backbone_mismatch_is_one_clear_error(clip: dict):
    task, _ = _task(clip)
    task.feature_backbone = "open_clip:ViT-B-32"
    with pytest.raises(
        ConfigError,
        match=r"tower open_clip:kgzsl-tiny-clip does not match .*open_clip:ViT-B-32 \(the features. manifest\)",
    ):
        CLIPZeroShot(**clip).fit(task, context=CTX)
    task.feature_backbone = None
    with pytest.warns(UserWarning, match="do not say which backbone"):
        CLIPZeroShot(**clip, prompts="names").fit(task, context=CTX)
    check_backbone("open_clip:ViT-L-14", "open_clip:ViT-L/14")  # open_clip's two spellings match


def test_contract_on_clip_features(clip_zeroshot_params: dict, tmp_path: Path):
    assert CLIPZeroShot.needs_fixture == "clip_zeroshot_params"
    measured = check_method(lambda: METHODS.build("clip_zeroshot", **clip_zeroshot_params), tmp_path)
    assert measured["zsl_top1"] >= testing.CHANCE + testing.margin_for("clip_zeroshot")


def test_prompt_weighting_ranks_informative_templates_first(clip: dict):
    task, emb = _task(clip, INFORMATIVE, noise=0.02)
    test = _features(emb, task.labels, 0.02, seed=3)
    templates = [UNINFORMATIVE[0], INFORMATIVE[0], UNINFORMATIVE[1], INFORMATIVE[1]]
    method = CLIPZeroShot(**clip, templates=templates, combine="weighted").fit(task, context=CTX)
    assert method.transductive
    mean = CLIPZeroShot(**clip, templates=templates).fit(task, context=CTX)
    # before the unlabelled images are seen, the weighted method is the plain ensemble
    assert torch.equal(method.decision_function(test), mean.decision_function(test))
    method.observe_unlabelled(test)
    scores, weights = method.prompt_scores_, method.prompt_weights_
    assert min(scores[1], scores[3]) > max(scores[0], scores[2])
    assert weights[1] + weights[3] > 0.99
    assert method.prompt_names_ == [f"templates: {t}" for t in templates]

    def accuracy(m: CLIPZeroShot) -> float:
        return float((m.decision_function(test).argmax(1) == task.labels).float().mean())

    assert accuracy(method) >= accuracy(mean)
    # a mean ensemble is not transductive: observing changes nothing
    before = mean.decision_function(test)
    mean.observe_unlabelled(test[:5])
    assert not mean.transductive and torch.equal(before, mean.decision_function(test))


def test_class_bias_from_an_outside_image_set(clip: dict, tmp_path: Path):
    from kgzsl.language.weighting import mean_unit, prompt_scores

    task, emb = _task(clip, INFORMATIVE)
    outside = _features(emb, task.labels, 0.02, seed=4)
    np.save(tmp_path / "outside.npy", outside.numpy())
    templates = [UNINFORMATIVE[0], INFORMATIVE[0]]
    method = CLIPZeroShot(
        **clip, templates=templates, combine="weighted", weighting_images=str(tmp_path / "outside.npy")
    )
    method.fit(task, context=CTX)
    assert method.transductive  # the prompts are still scored on the test images
    torch.testing.assert_close(method.bias_mean_, mean_unit(outside))
    test = _features(emb, task.labels, 0.02, seed=5)
    method.observe_unlabelled(test)
    # the class bias: the mean of the outside images' and the test images' means (the authors' notebook)
    both = 0.5 * (mean_unit(outside) + mean_unit(test))
    expected = prompt_scores(method.prompt_embeddings_, test, logit_scale=method.logit_scale, bias_mean=both)
    torch.testing.assert_close(method.prompt_scores_, expected)
    assert method.prompt_weights_[1] > 0.99
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5), dtype=np.float32))
    wrong = CLIPZeroShot(**clip, combine="weighted", weighting_images=str(tmp_path / "wrong.npy"))
    with pytest.raises(DataError, match=r"expected image features \[M, 16\], found \(3, 5\)"):
        wrong.fit(task, context=CTX)


def test_kg_and_attribute_sources(clip: dict, tmp_path: Path):
    task, _ = _task(clip)
    with pytest.raises(ConfigError, match="'kg_labels' reads the knowledge graph, and the run has none"):
        CLIPZeroShot(**clip, prompts="kg_labels").fit(task, context=CTX)
    task.knowledge = toy_kg()
    method = CLIPZeroShot(**clip, prompts=["kg_labels", "kg_literals", "attributes"], templates="single")
    method.fit(task, context=CTX)
    assert method.prompt_names_ == ["kg_labels: a photo of a {}.", "kg_literals", "attributes"]
    assert method.prompt_embeddings_.shape == (3, len(task.candidates), 16)
    # attributes from the dataset's class × attribute matrix and a names file
    names = tmp_path / "attributes.txt"
    names.write_text("\n".join(f"a{i:03d}\tattribute {i}" for i in range(task.semantics.shape[1])))
    by_matrix = CLIPZeroShot(**clip, prompts="attributes", attribute_names=str(names), top_attributes=2)
    scores = by_matrix.fit(task, context=CTX).decision_function(task.features)
    assert torch.isfinite(scores[:, task.candidates]).all()


def test_feature_dimension_mismatch_is_clear(clip: dict):
    task, _ = _task(clip)
    method = CLIPZeroShot(**clip, prompts="names").fit(task, context=CTX)
    with pytest.raises(Exception, match="8-d image features for a 16-d text tower"):
        method.decision_function(torch.randn(2, 8))


def test_same_inputs_same_scores(clip: dict):
    task, _ = _task(clip)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: weights given, backbone known
        a = CLIPZeroShot(**clip, templates="short").fit(task, context=CTX).decision_function(task.features)
    b = CLIPZeroShot(**clip, templates="short").fit(task, context=CTX).decision_function(task.features)
    assert torch.equal(a, b)


@pytest.mark.filterwarnings("ignore:.*(random|RANDOM).*:UserWarning")
def test_a_run_from_yaml_weighs_on_the_test_images_and_says_relaxed(clip: dict, tmp_path: Path, capsys):
    import json

    import yaml
    from PIL import Image

    from kgzsl.cli import main

    rng = np.random.default_rng(0)
    names = ["cat", "dog", "fox", "owl", "yak"]
    for c, name in enumerate(names):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(rng.normal(40 * c, 20, size=(24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    np.save(tmp_path / "sem.npy", rng.random((5, 4)).astype(np.float32))
    (tmp_path / "sem_ids.txt").write_text("\n".join(names) + "\n")
    config = {
        "dataset": {
            "name": "image_folder",
            "root": str(tmp_path / "images"),
            "seen": names[:3],
            "unseen": names[3:],
            "backbone": BACKBONE,
            "weights": clip["weights"],
            "progress": False,
        },
        "semantics": {"name": "precomputed", "path": str(tmp_path / "sem.npy"), "ids": str(tmp_path / "sem_ids.txt")},
        "method": {"name": "clip_zeroshot", **clip, "templates": "short", "combine": "weighted"},
        "select": {},
    }
    path = tmp_path / "clip.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "runs"), "--no-progress"]) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "clip" / "seed-0"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["eval/transductive"] == 1.0
    assert "relaxed setting" in (run / "results.md").read_text(encoding="utf-8")
    from kgzsl.methods.base import ZSLMethod

    saved = ZSLMethod.load(run / "models" / "method.pt")
    assert saved.prompt_weights_ is not None and saved.prompt_weights_.shape == (7,)

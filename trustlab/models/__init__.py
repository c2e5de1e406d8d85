"""Classifiers: architectures, training, evaluation, comparison, inference and checkpoints.

Public entry points (each behind one CLI verb):

- arch.build_model(arch, num_classes, *, weights=None, img_size=None)
                                            ARCHS, torchvision:/timm:/python: forms (zoo.py)
- checkpoint.load_model(settings, name, *, device=None)          -> LoadedModel (eval mode)
- train.train_model(settings, config: TrainConfig)             `trustlab train` (config.py: defaults)
- evaluate.evaluate_model(settings, *, model, split="test")       `trustlab evaluate`
- compare.compare_models(settings, *, models, split="test")      `trustlab compare`
- predict.predict_model(settings, *, model, split="test")        `trustlab predict`
- crossval.crossval_predict(settings, *, model, k=5)             `trustlab predict --cross-val K`
- model_import.import_model(settings, *, name, dataset, file)     `trustlab model import` (TorchScript,
                                                                  torch.export; see imported.py)

Errors derive from errors.ModelError; their messages name the input at fault and what to do.
"""

"""Fine-tuning on multi-image conversations (LoRA or full language model) with the image-block mask.

```python
from mimic_vlm.train import TrainConfig, train, load_trained
result = train(TrainConfig(model="tiny:qwen2_vl", data=["train_llava.json"], out=Path("run"),
                           mask_layers="second-half"))
model, processor, settings = load_trained("run")      # adapter merged, same mask attached
```
"""

from mimic_vlm.train.data import ChatCollator, Conversation, TrainingData, check_images, load_data
from mimic_vlm.train.engine import TRAIN_SETTINGS, TrainConfig, TrainResult, load_base, load_trained, train
from mimic_vlm.train.finetune import METHODS, LoraSettings, Parts, find_parts, lora_target_regex, prepare

__all__ = ["METHODS", "TRAIN_SETTINGS", "ChatCollator", "Conversation", "LoraSettings", "Parts", "TrainConfig",
           "TrainResult", "TrainingData", "check_images", "find_parts", "load_base", "load_data", "load_trained",
           "lora_target_regex", "prepare", "train"]

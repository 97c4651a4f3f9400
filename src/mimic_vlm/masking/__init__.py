"""Image-block attention masking: image tokens attend only to their own image, in chosen text layers.

```python
from mimic_vlm.masking import ImageBlockMask
mask = ImageBlockMask(layers="12-23", backend="sdpa")
mask.attach(model)      # model(**inputs) and model.generate(**inputs) are now masked
mask.detach(model)      # back to the original behaviour, bit for bit
```
"""

from mimic_vlm.masking.attention import BACKENDS, ImageBlockMask, ImageBlocks, mask_from_options, parse_layers
from mimic_vlm.masking.layout import ImageLayout, image_block_ids, layout_of

__all__ = ["BACKENDS", "ImageBlockMask", "ImageBlocks", "ImageLayout", "image_block_ids", "layout_of",
           "mask_from_options", "parse_layers"]

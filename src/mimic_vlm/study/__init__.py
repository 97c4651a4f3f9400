"""`mimic study`: the paper's findings F1-F7 as controlled, paired experiments on one model (`run.study`)."""

from mimic_vlm.callable_package import make_callable

make_callable(__name__)  # `mv.study(...)` calls `mimic_vlm.api.study`; `mimic_vlm.study.run` stays reachable

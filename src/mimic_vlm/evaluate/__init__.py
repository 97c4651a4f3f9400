"""evaluate: parsing, metrics, the runner and scoring. Called, the package is `mimic_vlm.api.evaluate`
(`mv.evaluate(bench, model, out)`; see `callable_package`)."""

from mimic_vlm.callable_package import make_callable

make_callable(__name__)

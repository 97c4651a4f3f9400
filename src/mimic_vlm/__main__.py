"""`python -m mimic_vlm ...` (also what `accelerate launch -m mimic_vlm ...` runs)."""

from mimic_vlm.cli import main

if __name__ == "__main__":
    main()

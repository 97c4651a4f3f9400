"""Existing multi-image benchmarks (MuirBench, BLINK, Mantis-Eval, NLVR2, MIRB, MMIU) as benches."""

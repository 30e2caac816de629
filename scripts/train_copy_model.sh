#!/usr/bin/env bash
# Rebuild the packaged ad-copy model (monitor/text/copymodel.py) from the labelled copy the
# rules are tuned on: never the held-back set (bench/compliance.py's HELD_BACK), so that it
# stays a measure of copy neither the rules nor the model have seen.
source "$(dirname "$0")/bootstrap.sh"
.venv/bin/python -m monitor.text.copymodel bench/data/adcopy.tsv bench/data/adcopy_fresh.tsv \
  bench/data/adcopy_heldout2.tsv bench/data/adcopy_heldout3.tsv bench/data/adcopy_heldout4.tsv \
  bench/data/adcopy_heldout5.tsv bench/data/adcopy_heldout6.tsv bench/data/adcopy_heldout8.tsv \
  bench/data/adcopy_heldout9.tsv \
  bench/data/adcopy_train_a.tsv bench/data/adcopy_train_b.tsv bench/data/adcopy_train_c.tsv

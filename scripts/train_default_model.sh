#!/usr/bin/env bash
# Rebuild the packaged sentiment model from the public data sets in ../shared/data
# (see its README): trained on train/ (three classes: SMP2020's neutral posts are the
# neutral class), the negative threshold tuned on dev/, measured on held-out parts.
# weibo_senti_100k_partial's labels follow its emoji codes, so its codes are left out.
source "$(dirname "$0")/bootstrap.sh"
DATA=${1:-../shared/data}
.venv/bin/guanchao train "$DATA"/train/*.csv --dev "$DATA"/dev/smp2020_usual_dev.csv \
  --strip-codes weibo_senti_100k_partial \
  --config monitor/default_config.yaml --out monitor/models/social.json.gz

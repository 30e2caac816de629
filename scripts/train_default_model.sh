#!/usr/bin/env bash
# Rebuild the packaged sentiment model from the public data sets in ../shared/data
# (see its README): trained on train/, threshold tuned on dev/, measured on held-out parts.
source "$(dirname "$0")/bootstrap.sh"
DATA=${1:-../shared/data}
.venv/bin/guanchao train "$DATA"/train/*.csv --dev "$DATA"/dev/smp2020_usual_dev.csv \
  --config monitor/default_config.yaml --out monitor/models/social.json.gz

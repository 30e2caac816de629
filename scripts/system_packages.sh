# Sourced by scripts/test: the Debian packages the tests run for real (Prometheus with
# promtool, Alertmanager; docker-compose only to validate deploy/compose.yaml; Chromium for
# the console's browser tests, with CJK fonts for its screenshots), installed when missing.
# Needs root or sudo, and apt.
missing=""
[ -d /usr/share/fonts/opentype/noto ] || missing="yes"
for command in prometheus promtool prometheus-alertmanager docker-compose chromium; do
  command -v "$command" >/dev/null || missing="yes"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager docker-compose chromium fonts-noto-cjk >/dev/null
fi

# Sourced by scripts/test: the Debian packages the tests run for real (Prometheus with
# promtool, Alertmanager), installed when missing. Needs root or sudo, and apt.
if ! command -v prometheus >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
fi

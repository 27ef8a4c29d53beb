#!/bin/sh
# Docker HEALTHCHECK of the nginx container: its own /nginx-health, over HTTPS when TLS is on
# (the certificate is not checked: it is issued for the public name, not 127.0.0.1).
scheme=http
[ -f "${NGINX_ENVSUBST_OUTPUT_DIR:-/tmp/nginx}/studylink.d/tls.conf" ] && scheme=https
url="${scheme}://127.0.0.1:${NGINX_PORT:-3000}/nginx-health"
if command -v curl >/dev/null 2>&1; then
  exec curl --fail --silent --show-error --insecure --max-time 3 --output /dev/null "$url"
fi
exec wget -q -T 3 -O /dev/null --no-check-certificate "$url"
